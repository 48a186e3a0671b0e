package config

import (
	"strings"
	"testing"
)

// The YAML library gives no line for bytes its reader refuses, for an unknown alias and for any
// error on the first line, and none for an alias bomb: each problem still names the file, and
// a line where there is one.
func TestYAMLErrorsArePlaced(t *testing.T) {
	bomb := "x-p: &p {name: p, http: {url: \"http://a\"}}\n" +
		"x-s: &s {name: s, probes: [" + strings.Repeat("*p, ", 300) + "*p]}\n" +
		"services: [" + strings.Repeat("*s, ", 300) + "*s]\n"
	for _, tc := range []struct{ text, want string }{
		{"triage:\n  workers: 4\nnats: \xff", "f.yml:3:7: invalid leading UTF-8 octet"},
		{"triage:\n  workers: 4\x00", "f.yml:2:13: control characters are not allowed"},
		{"triage: *nowhere", "f.yml:1:9: unknown anchor 'nowhere' referenced"},
		{"\ttriage: {}", "f.yml:1: found character that cannot start any token"},
		{strings.Repeat("[", 10001), "f.yml:1: exceeded max depth of 10000"},
		{bomb, "f.yml: document contains excessive aliasing"},
	} {
		_, err := Load([]byte(tc.text), "f.yml")
		if err == nil {
			t.Fatalf("%.40q loads", tc.text)
		}
		if msgs := strings.Split(err.Error(), "\n"); msgs[len(msgs)-1] != tc.want {
			t.Errorf("%.40q: got %q, want %q last", tc.text, err, tc.want)
		}
	}
}
