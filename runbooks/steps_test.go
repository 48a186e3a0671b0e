package runbooks

import (
	"slices"
	"strings"
	"testing"
)

func TestFirstSteps(t *testing.T) {
	long := strings.Repeat("abcdefghij", 25) // 250 characters
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{"first list of the body", "Intro.\n\n- one\n- two\n\nOutro.\n\n- not this\n", []string{"one", "two"}},
		{"ordered list", "1. one\n2. two\n3) other kind: another list\n", []string{"one", "two"}},
		{"section named First steps wins", "- general\n\n## Background\n\n- detail\n\n## First steps\n\n1. one\n2. two\n\n## Later\n\n- later\n", []string{"one", "two"}},
		{"section named Steps, any level and case", "- general\n\n### STEPS:\n\n* one\n", []string{"one"}},
		{"a section without a list gives no steps", "- general\n\n## Steps\n\nProse only.\n\n## Next\n\n- next\n", nil},
		{"a subsection belongs to the section", "## First steps\n\n### Quick\n\n- one\n", []string{"one"}},
		{"lists in code blocks are not lists", "```bash\n# 1. restart\n- x\n```\n\n~~~\n1. y\n~~~\n\n- real\n", []string{"real"}},
		{"continuation lines join", "- one that goes\n  on and on\n- two\nlazy continuation\n", []string{"one that goes on and on", "two lazy continuation"}},
		{"only the first paragraph", "- one\n\n  more about one\n\n- two\n", []string{"one", "two"}},
		{"nested lists and code are detail", "1. one\n   - nested\n   ```\n   code\n   - not an item\n   ```\n2. two\n", []string{"one", "two"}},
		{"a code block after the list ends it", "- one\n```\n- code\n```\n", []string{"one"}},
		{"a heading ends the list", "- one\n# Heading\n- two\n", []string{"one"}},
		{"a thematic break ends the list", "- one\n\n---\n\n- two\n", []string{"one"}},
		{"a paragraph after a blank line ends the list", "- one\n\nText.\n- two\n", []string{"one"}},
		{"task boxes are dropped", "- [ ] one\n- [x] two\n", []string{"one", "two"}},
		{"inline Markdown is kept", "- Run `systemctl status <service>` **now**\n", []string{"Run `systemctl status <service>` **now**"}},
		{"empty items are dropped", "-\n- one\n", []string{"one"}},
		{"at most five", "1. a\n2. b\n3. c\n4. d\n5. e\n6. f\n", []string{"a", "b", "c", "d", "e"}},
		{"long steps are cut", "- " + long + "\n", []string{long[:MaxStepLen-1] + "…"}},
		{"a step of exactly the limit is kept", "- " + long[:MaxStepLen] + "\n", []string{long[:MaxStepLen]}},
		{"no list", "Just prose.\n", nil},
		{"indented four spaces is code, not a list", "    - code\n\n- one\n", []string{"one"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := firstSteps(strings.Split(tc.body, "\n"))
			if !slices.Equal(got, tc.want) {
				t.Errorf("firstSteps(%q)\n got %q\nwant %q", tc.body, got, tc.want)
			}
		})
	}
}

// TestStepLengthCountsCharacters: the cap is in characters, and a cut never splits one.
func TestStepLengthCountsCharacters(t *testing.T) {
	s := cleanStep(strings.Repeat("é", MaxStepLen+10))
	if got := []rune(s); len(got) != MaxStepLen || got[len(got)-1] != '…' {
		t.Errorf("cut to %d runes: %q", len(got), s)
	}
}
