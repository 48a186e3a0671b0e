// Package yamlnode walks a YAML node tree by hand, for the files people write by hand (rule
// files, rule unit tests, runbook front matter). Walking nodes rather than decoding into structs
// is what lets a loader reject unknown keys, point at line and column, name the part a problem is
// in, and report every problem of a file in one pass.
package yamlnode

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/internal/srcpos"
)

// Walker reads one file's YAML and collects its problems as *srcpos.Error values.
type Walker struct {
	file string
	// offset is the file line of the YAML's first line, minus one: YAML embedded in a file (a
	// runbook's front matter) is parsed on its own and counts lines from its own start.
	offset int
	lines  []string // the YAML's lines, for where a block scalar's text starts
	// Errs are the problems found so far, in the order found.
	Errs []error
}

// New returns a walker for YAML text that starts on line offset+1 of file.
func New(file, text string, offset int) *Walker {
	return &Walker{file: file, offset: offset, lines: strings.Split(text, "\n")}
}

// Pos is where a node stands in the file.
func (w *Walker) Pos(n *yaml.Node) srcpos.Position {
	return srcpos.Position{File: w.file, Line: n.Line + w.offset, Column: n.Column}
}

// Errorf records a problem at node n, in the part named by in (see srcpos.Error).
func (w *Walker) Errorf(n *yaml.Node, in, format string, args ...any) {
	w.ErrorAt(w.Pos(n), in, format, args...)
}

// ErrorAt records a problem at a position no node stands at.
func (w *Walker) ErrorAt(pos srcpos.Position, in, format string, args ...any) {
	w.Errs = append(w.Errs, srcpos.Errorf(pos, in, format, args...))
}

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// SyntaxError turns the YAML library's "yaml: line N: msg" into a positioned error saying
// "WHAT: msg", e.g. "invalid YAML: mapping values are not allowed in this context".
func (w *Walker) SyntaxError(err error, what string) error {
	if m := yamlLineError.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &srcpos.Error{Pos: srcpos.Position{File: w.file, Line: line + w.offset}, Err: errors.New(what + ": " + m[2])}
	}
	// The library leaves the line out of its reader's errors (bytes that are not UTF-8, control
	// characters), of an unknown alias, and of any error on the first line.
	line, col := Locate(strings.Join(w.lines, "\n"), err)
	if line == 0 {
		line, col = 1, 0
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return &srcpos.Error{Pos: srcpos.Position{File: w.file, Line: line + w.offset, Column: col}, Err: errors.New(what + ": " + msg)}
}

var unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)

// Locate finds the line and column in text of a YAML error that gives no line: the first byte
// the YAML reader refuses, or the first use of an unknown alias. It returns 0, 0 for any other
// error.
func Locate(text string, err error) (line, col int) {
	msg := err.Error()
	at := -1
	switch {
	case strings.Contains(msg, "UTF-8") || strings.Contains(msg, "control characters") || strings.Contains(msg, "invalid Unicode character"):
		at = strings.IndexFunc(text, func(r rune) bool { return !readable(r) })
		if i := firstInvalidUTF8(text); i >= 0 && (at < 0 || i < at) {
			at = i
		}
	case unknownAnchor.MatchString(msg):
		at = strings.Index(text, "*"+unknownAnchor.FindStringSubmatch(msg)[1])
	}
	if at < 0 {
		return 0, 0
	}
	before := text[:at]
	line = strings.Count(before, "\n") + 1
	return line, utf8.RuneCountInString(before[strings.LastIndexByte(before, '\n')+1:]) + 1
}

// readable is what the YAML reader accepts: YAML 1.2's printable characters.
func readable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r == 0x85 ||
		r >= 0xa0 && r <= 0xd7ff || r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
}

func firstInvalidUTF8(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return i
			}
		}
	}
	return -1
}

// Root is the top node of a parsed document, nil when the document is empty or null.
func Root(doc *yaml.Node) *yaml.Node {
	root := Resolve(doc)
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = Resolve(root.Content[0])
	}
	if root.Kind == 0 || (root.Kind == yaml.ScalarNode && root.Tag == "!!null") {
		return nil
	}
	return root
}

// Resolve follows aliases, so that anchors may be used to share text.
func Resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// Lookup returns the value of key in mapping n, nil when n is not a mapping or has no such key.
// A loader reads the key that names a part (a rule's name, a runbook's title) first, so that
// every later problem can say which part it is in.
func Lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := Resolve(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return Resolve(n.Content[i+1])
		}
	}
	return nil
}

// Mapping calls field for each key of mapping n, in order, rejecting duplicate and non-string
// keys.
func (w *Walker) Mapping(n *yaml.Node, in string, field func(key string, k, v *yaml.Node)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), Resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			w.Errorf(k, in, "keys must be plain strings")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			w.Errorf(k, in, "key %q already set on line %d", k.Value, line)
			continue
		}
		seen[k.Value] = w.Pos(k).Line
		field(k.Value, k, v)
	}
}

// Scalar reads the string value of key; null reads as "".
func (w *Walker) Scalar(n *yaml.Node, in, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		w.Errorf(n, in, "%s must be a string, not a %s", key, KindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// IsNull reports whether n is an explicit or implicit null (`key:` with nothing after it).
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// KindName names a node's kind as messages do: mapping, list or scalar.
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "scalar"
	}
}

// TextPos is where the text of scalar n starts, which is where expr's (line:column) counts from.
// For a block scalar (| or >) that is the first non-blank line of the block, at its indentation,
// not the indicator.
func (w *Walker) TextPos(n *yaml.Node) srcpos.Position {
	p := w.Pos(n)
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		return p
	}
	for l := n.Line; l < len(w.lines); l++ { // w.lines is 0-based, so index l is YAML line l+1
		line := w.lines[l]
		if trimmed := strings.TrimLeft(line, " "); strings.TrimSpace(trimmed) != "" {
			return srcpos.Position{File: w.file, Line: l + 1 + w.offset, Column: len(line) - len(trimmed) + 1}
		}
	}
	return p
}
