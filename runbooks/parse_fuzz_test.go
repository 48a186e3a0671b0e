package runbooks

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/triaged/triaged/internal/fuzzseed"
)

// FuzzParseFile: a runbook is refused with every problem placed at FILE:LINE(:COL), or read
// into a runbook a report can show: a title, a compiled match, an id fit for paths and URLs, and
// first steps or a link.
func FuzzParseFile(f *testing.F) {
	var files []string
	for _, glob := range []string{"library/*.md", "testdata/*.md", "testdata/*/*.md"} {
		m, _ := filepath.Glob(glob)
		files = append(files, m...)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range fuzzseed.YAML() {
		f.Add([]byte("---\n" + s + "\n---\n- step\n"))
	}
	for _, s := range []string{
		"---\ntitle: t\nmatch: true\n---\n- one\n",
		"\uFEFF---\r\ntitle: t\r\nmatch: true\r\n...\r\n1. one\r\n",
		"---\ntitle: \"\\u202eevil\\0\"\nmatch: labels.a == \"\\xff\"\nurl: http://[::1\n---\n",
		"---\ntitle: t\nmatch: true\n", "---", "", "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkRunbook)
}

// TestParseFileLargeHostileFiles holds the hostile inputs too large to seed the fuzzer with (it would spend its
// time minimizing them) to its checks.
func TestParseFileLargeHostileFiles(t *testing.T) {
	for _, s := range fuzzseed.LargeYAML() {
		checkRunbook(t, []byte("---\n"+s+"\n---\n- step\n"))
	}
}

func checkRunbook(t *testing.T, data []byte) {
	t.Helper()
	const file = "fuzz.md"
	rb, errs := parseFile(file, "fuzz", data)
	if len(errs) > 0 {
		if rb != nil {
			t.Errorf("refused with %v, yet returned a runbook", errs)
		}
		for _, err := range errs {
			fuzzseed.CheckPlaced(t, err, file)
		}
		return
	}
	switch {
	case rb == nil:
		t.Fatal("neither a runbook nor a problem")
	case rb.title == "" || rb.program == nil:
		t.Fatalf("accepted without a title or a match: %+v", rb)
	case !idPattern.MatchString(rb.id):
		t.Fatalf("accepted the id %q", rb.id)
	case len(rb.steps) == 0 && rb.url == "":
		t.Fatalf("accepted without steps or url: %+v", rb)
	}
	if rb.url != "" {
		if u, err := url.Parse(rb.url); err != nil || u.Host == "" {
			t.Fatalf("accepted the url %q", rb.url)
		}
	}
}
