package triaged_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every fuzz target is run by .ci/run: one added without it would only ever replay its seeds.
func TestCIRunsEveryFuzzTarget(t *testing.T) {
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	fuzz := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(`)
	found := 0
	err = filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range fuzz.FindAllStringSubmatch(string(src), -1) {
			found++
			if want := filepath.Dir(path) + ":" + m[1]; !strings.Contains(string(ci), " "+want+":") {
				t.Errorf("%s (%s) is not run by .ci/run: add %s to its loop", m[1], path, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 5 {
		t.Errorf("found %d fuzz targets, want at least 5", found)
	}
}
