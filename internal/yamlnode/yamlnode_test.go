package yamlnode

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/internal/srcpos"
)

func parse(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	return Root(&doc)
}

func TestRoot(t *testing.T) {
	for _, text := range []string{"", "~", "null", "# only a comment"} {
		if root := parse(t, text); root != nil {
			t.Errorf("%q: root %v, want nil", text, root)
		}
	}
	if root := parse(t, "a: 1"); root == nil || root.Kind != yaml.MappingNode {
		t.Errorf("root %v", root)
	}
}

// TestWalker: positions count from the embedding file's line, keys are checked, aliases
// followed, and a block scalar's text starts on its first line, not at the indicator.
func TestWalker(t *testing.T) {
	text := "name: &n x\nalias: *n\nname: again\n[a]: 1\nwhen: |\n\n    a == b\n"
	w := New("f.md", text, 1)
	root := parse(t, text)
	var keys []string
	w.Mapping(root, "part", func(key string, _, v *yaml.Node) {
		keys = append(keys, key)
		if key == "alias" {
			if s, ok := w.Scalar(v, "part", key); !ok || s != "x" {
				t.Errorf("alias read as %q, %t", s, ok)
			}
		}
		if key == "when" {
			if got, want := w.TextPos(v), (srcpos.Position{File: "f.md", Line: 8, Column: 5}); got != want {
				t.Errorf("TextPos = %v, want %v", got, want)
			}
		}
	})
	if !slices.Equal(keys, []string{"name", "alias", "when"}) {
		t.Errorf("keys %q", keys)
	}
	var got []string
	for _, e := range w.Errs {
		got = append(got, e.Error())
	}
	want := []string{`f.md:4:1: part: key "name" already set on line 2`, "f.md:5:1: part: keys must be plain strings"}
	if !slices.Equal(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
	if v := Lookup(root, "name"); v == nil || v.Value != "x" {
		t.Errorf("Lookup found %v, want the first name", v)
	}
}

func TestSyntaxError(t *testing.T) {
	var doc yaml.Node
	err := yaml.Unmarshal([]byte("a: 1\nb: [\n"), &doc)
	got := New("f.md", "", 1).SyntaxError(err, "invalid YAML in front matter")
	if want := "f.md:3: invalid YAML in front matter: did not find expected node content"; got.Error() != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The YAML library gives no line for bytes its reader refuses, for an unknown alias and for any
// error on the first line: each is still placed at a line of the file.
func TestSyntaxErrorWithoutALine(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"a: 1\nb: x\xff", "f.md:3:5: invalid YAML: invalid leading UTF-8 octet"},
		{"a: 1\nbé: c\x00", "f.md:3:6: invalid YAML: control characters are not allowed"},
		{"a: 1\nb: \xc3", "f.md:3:4: invalid YAML: incomplete UTF-8 octet sequence"},
		{"a: &x 1\nb: [*x, *undefined]", "f.md:3:9: invalid YAML: unknown anchor 'undefined' referenced"},
		{"\ta: 1", "f.md:2: invalid YAML: found character that cannot start any token"},
		{strings.Repeat("[", 10001), "f.md:2: invalid YAML: exceeded max depth of 10000"},
	} {
		var doc yaml.Node
		err := yaml.Unmarshal([]byte(tc.text), &doc)
		if err == nil {
			t.Fatalf("%q parses", tc.text)
		}
		if got := New("f.md", tc.text, 1).SyntaxError(err, "invalid YAML"); got.Error() != tc.want {
			t.Errorf("%q: got %q, want %q", tc.text, got, tc.want)
		}
	}
}
