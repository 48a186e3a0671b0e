package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/fuzzseed"
)

// FuzzLoad: a config is refused with every problem placed in the file (FILE:LINE:COL, or the
// key at fault), or accepted; what is accepted prints as YAML that loads back as the same config.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, name := range append(files, "../examples/triaged.yml") {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range fuzzseed.YAML() {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		"triage:\n  workers: 4\n  workers: 5\n",
		"triage: {retry_backoff: [1s, -1s, 99999999999h]}\n",
		"x: &x {workers: 4}\ntriage: *x\n",
		"d: &d [1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\ntriage: {retry_backoff: *e}\n",
		"services: [{name: \"\\u202e\\0\", probes: [{http: {url: \"\\xff\"}}]}]\n",
	} {
		f.Add([]byte(s))
	}
	// An alias bomb of the right types, which the YAML library's alias ratio bounds.
	f.Add([]byte("x-p: &p {name: p, http: {url: \"http://a\"}}\n" +
		"x-s: &s {name: s, probes: [" + strings.Repeat("*p, ", 100) + "*p]}\n" +
		"services: [" + strings.Repeat("*s, ", 100) + "*s]\n"))
	f.Fuzz(checkConfig)
}

// TestLoadLargeHostileFiles holds the hostile inputs too large to seed the fuzzer with (it would spend its
// time minimizing them) to its checks.
func TestLoadLargeHostileFiles(t *testing.T) {
	for _, s := range fuzzseed.LargeYAML() {
		checkConfig(t, []byte(s))
	}
}

func checkConfig(t *testing.T, data []byte) {
	t.Helper()
	const file = "fuzz.yml"
	c, err := Load(data, file)
	if err != nil {
		if c != nil {
			t.Errorf("refused with %v, yet returned a config", err)
		}
		parts := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			parts = j.Unwrap()
		}
		for _, e := range parts {
			if msg := e.Error(); !strings.HasPrefix(msg, file+":") || len(msg) <= len(file)+2 {
				t.Fatalf("problem not placed in %s: %q", file, msg)
			}
		}
		return
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatalf("accepted, but does not print: %v", err)
	}
	back, err := Load(out, file)
	if err != nil {
		t.Fatalf("accepted, but prints as\n%s\nwhich is refused: %v", out, err)
	}
	again, err := back.Marshal()
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("does not print back the same:\n%s\nthen\n%s", out, again)
	}
}
