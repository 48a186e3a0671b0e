package runbooks

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged"
)

// runbook is one compiled runbook file.
type runbook struct {
	id        string
	title     string
	matchText string
	program   *vm.Program
	severity  triaged.Severity // 0: no hint
	priority  int
	url       string
	path      string // as the report shows it, and errors name it
	steps     []string
	embedded  bool
	overrides string // path of the runbook this one replaced
}

// frontMatterKeys are the keys a runbook's front matter may hold, in the order errors list them.
const frontMatterKeys = "id, title, match, severity, priority or url"

// idPattern is what an id may look like: a file name without .md, safe in paths, URLs, logs and
// metric values.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

var yamlLineError = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decoder reads one runbook file. It walks the YAML node tree by hand rather than decoding into
// a struct: that is what lets it reject unknown keys, point at line and column, name the runbook
// by its title, and report every problem of the file in one pass.
type decoder struct {
	file string
	// offset is the file line of the front matter's first YAML line, minus one: the YAML parser
	// counts from the line after the opening "---".
	offset int
	lines  []string // the front matter's lines, for the position of block scalars
	title  string
	errs   []error
}

func (d *decoder) pos(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line + d.offset, Column: n.Column}
}

func (d *decoder) errorf(p Position, format string, args ...any) {
	d.errs = append(d.errs, &Error{Pos: p, Title: d.title, Err: fmt.Errorf(format, args...)})
}

// parseFile reads and compiles one runbook. id is the runbook's id unless the front matter sets
// one. All problems of the file come back together.
func parseFile(filename, id string, data []byte) (*runbook, []error) {
	d := &decoder{file: filename}
	start := Position{File: filename, Line: 1, Column: 1}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")

	if strings.TrimRight(lines[0], " \t") != "---" {
		d.errorf(start, "no front matter: a runbook starts with a line \"---\", then YAML with title and match, then a line \"---\"")
		return nil, d.errs
	}
	closing := -1
	for i := 1; i < len(lines); i++ {
		if l := strings.TrimRight(lines[i], " \t"); l == "---" || l == "..." {
			closing = i
			break
		}
	}
	if closing < 0 {
		d.errorf(start, "front matter not closed: no line \"---\" after the opening one")
		return nil, d.errs
	}
	d.offset, d.lines = 1, lines[1:closing]

	rb := &runbook{id: id, path: filename}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(strings.Join(d.lines, "\n")), &doc); err != nil {
		d.errs = append(d.errs, d.syntaxError(err))
		return nil, d.errs
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	var matchPos Position
	switch {
	case root.Kind == 0 || root.Kind == yaml.DocumentNode || (root.Kind == yaml.ScalarNode && root.Tag == "!!null"):
		// Empty front matter: the missing title and match are reported below.
	case root.Kind != yaml.MappingNode:
		d.errorf(d.pos(root), "front matter must be a mapping with the keys %s", frontMatterKeys)
		return nil, d.errs
	default:
		matchPos = d.frontMatter(root, rb)
	}
	if rb.title == "" && !d.hasKey(root, "title") {
		d.errorf(start, "missing title")
	}
	if rb.matchText == "" && !d.hasKey(root, "match") {
		d.errorf(start, "missing match: an expression saying which alerts the runbook is for (true for all)")
	}
	if rb.matchText != "" {
		program, err := compileMatch(rb.matchText)
		if err != nil {
			d.errorf(matchPos, "match: %w", err)
		}
		rb.program = program
	}

	rb.steps = firstSteps(lines[closing+1:])
	if len(rb.steps) == 0 && rb.url == "" && rb.title != "" {
		d.errorf(Position{File: filename, Line: closing + 1, Column: 1},
			"no steps and no url: the report would show a bare title; write the first steps as a list (see \"First steps\" in the runbooks README)")
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return rb, nil
}

func (d *decoder) hasKey(n *yaml.Node, key string) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// syntaxError turns yaml's "yaml: line N: msg" into a positioned Error.
func (d *decoder) syntaxError(err error) error {
	if m := yamlLineError.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Pos: Position{File: d.file, Line: line + d.offset}, Err: errors.New("invalid YAML in front matter: " + m[2])}
	}
	return &Error{Pos: Position{File: d.file}, Err: fmt.Errorf("invalid YAML in front matter: %w", err)}
}

// frontMatter reads the keys of the front matter into rb and returns where the match expression
// starts.
func (d *decoder) frontMatter(n *yaml.Node, rb *runbook) Position {
	// The title first, so that every later problem can say which runbook it is in.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "title" {
			if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
				rb.title = strings.Join(strings.Fields(v.Value), " ")
			}
			if rb.title == "" {
				d.errorf(d.pos(v), "title must be a non-empty string")
			}
			d.title = rb.title
			break
		}
	}

	var matchPos Position
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(d.pos(k), "keys must be plain strings")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.errorf(d.pos(k), "key %q already set on line %d", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line + d.offset
		switch k.Value {
		case "title":
			// Read above.
		case "id":
			s, ok := d.scalar(v, "id")
			if !ok {
				continue
			}
			if !idPattern.MatchString(s) {
				d.errorf(d.pos(v), "id: invalid id %q: want lowercase letters, digits, '.', '_' and '-', e.g. checkout-down", s)
				continue
			}
			rb.id = s
		case "match":
			s, ok := d.scalar(v, "match")
			if !ok {
				continue
			}
			if strings.TrimSpace(s) == "" {
				d.errorf(d.pos(v), "match is empty: write true to match every alert")
				continue
			}
			rb.matchText = strings.TrimSpace(s)
			matchPos = d.exprPos(v)
		case "severity":
			s, ok := d.scalar(v, "severity")
			if !ok || s == "" {
				continue
			}
			sev, err := triaged.ParseSeverity(s)
			if err != nil {
				d.errorf(d.pos(v), "severity: invalid severity hint %q: want one of P1, P2, P3, P4", s)
				continue
			}
			rb.severity = sev
		case "priority":
			s, ok := d.scalar(v, "priority")
			if !ok {
				continue
			}
			p, err := strconv.Atoi(s)
			if err != nil {
				d.errorf(d.pos(v), "priority: invalid priority %q: want a whole number; the highest matching priority wins", s)
				continue
			}
			rb.priority = p
		case "url":
			s, ok := d.scalar(v, "url")
			if !ok || s == "" {
				continue
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errorf(d.pos(v), "url: invalid URL %q: want an absolute http or https URL", s)
				continue
			}
			rb.url = s
		default:
			d.errorf(d.pos(k), "unknown key %q: want %s", k.Value, frontMatterKeys)
		}
	}
	return matchPos
}

// scalar reads a string; null reads as "".
func (d *decoder) scalar(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(d.pos(n), "%s must be a string, not a %s", key, kindName(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return strings.TrimSpace(n.Value), true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	default:
		return "scalar"
	}
}

// exprPos is where an expression's text starts, which is where expr's (line:column) counts
// from. For a block scalar (| or >) that is the first line of the block, not the indicator.
func (d *decoder) exprPos(n *yaml.Node) Position {
	p := d.pos(n)
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		return p
	}
	for l := n.Line; l < len(d.lines); l++ { // d.lines is 0-based, so index l is YAML line l+1
		line := d.lines[l]
		if trimmed := strings.TrimLeft(line, " "); strings.TrimSpace(trimmed) != "" {
			return Position{File: d.file, Line: l + 1 + d.offset, Column: len(line) - len(trimmed) + 1}
		}
	}
	return p
}

// idFromFile is the id a runbook has unless its front matter sets one: its file name without
// ".md". That is what makes a configured service-down.md replace the default one.
func idFromFile(name string) string {
	return strings.TrimSuffix(path.Base(name), ".md")
}

// flatten makes text one line, for reasons and listings.
func flatten(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
