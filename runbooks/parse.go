package runbooks

import (
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/yamlnode"
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

// decoder reads one runbook file's front matter with the shared YAML node walker.
type decoder struct {
	*yamlnode.Walker
	// in names the runbook in errors once its title is read.
	in string
}

// errorAt records a problem at a position no node stands at (the file's start, the body).
func (d *decoder) errorAt(p Position, format string, args ...any) {
	d.ErrorAt(p, d.in, format, args...)
}

// parseFile reads and compiles one runbook. id is the runbook's id unless the front matter sets
// one. All problems of the file come back together.
func parseFile(filename, id string, data []byte) (*runbook, []error) {
	start := Position{File: filename, Line: 1, Column: 1}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	d := &decoder{Walker: yamlnode.New(filename, "", 0)}

	if strings.TrimRight(lines[0], " \t") != "---" {
		d.errorAt(start, "no front matter: a runbook starts with a line \"---\", then YAML with title and match, then a line \"---\"")
		return nil, d.Errs
	}
	closing := -1
	for i := 1; i < len(lines); i++ {
		if l := strings.TrimRight(lines[i], " \t"); l == "---" || l == "..." {
			closing = i
			break
		}
	}
	if closing < 0 {
		d.errorAt(start, "front matter not closed: no line \"---\" after the opening one")
		return nil, d.Errs
	}
	// The YAML parser counts lines from the one after the opening "---".
	frontMatter := strings.Join(lines[1:closing], "\n")
	d.Walker = yamlnode.New(filename, frontMatter, 1)

	rb := &runbook{id: id, path: filename}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(frontMatter), &doc); err != nil {
		d.Errs = append(d.Errs, d.SyntaxError(err, "invalid YAML in front matter"))
		return nil, d.Errs
	}
	root := yamlnode.Root(&doc)
	var matchPos Position
	switch {
	case root == nil:
		// Empty front matter: the missing title and match are reported below.
	case root.Kind != yaml.MappingNode:
		d.Errorf(root, d.in, "front matter must be a mapping with the keys %s", frontMatterKeys)
		return nil, d.Errs
	default:
		matchPos = d.frontMatter(root, rb)
	}
	if rb.title == "" && yamlnode.Lookup(root, "title") == nil {
		d.errorAt(start, "missing title")
	}
	if rb.matchText == "" && yamlnode.Lookup(root, "match") == nil {
		d.errorAt(start, "missing match: an expression saying which alerts the runbook is for (true for all)")
	}
	if rb.matchText != "" {
		program, err := compileMatch(rb.matchText)
		if err != nil {
			d.errorAt(matchPos, "match: %w", err)
		}
		rb.program = program
	}

	rb.steps = firstSteps(lines[closing+1:])
	if len(rb.steps) == 0 && rb.url == "" && rb.title != "" {
		d.errorAt(Position{File: filename, Line: closing + 1, Column: 1},
			"no steps and no url: the report would show a bare title; write the first steps as a list (see \"First steps\" in the runbooks README)")
	}
	if len(d.Errs) > 0 {
		return nil, d.Errs
	}
	return rb, nil
}

// frontMatter reads the keys of the front matter into rb and returns where the match expression
// starts.
func (d *decoder) frontMatter(n *yaml.Node, rb *runbook) Position {
	// The title first, so that every later problem can say which runbook it is in.
	if v := yamlnode.Lookup(n, "title"); v != nil {
		if v.Kind == yaml.ScalarNode && !yamlnode.IsNull(v) {
			rb.title = strings.Join(strings.Fields(v.Value), " ")
		}
		if rb.title == "" {
			d.Errorf(v, d.in, "title must be a non-empty string")
		}
		d.in = ref(rb.title)
	}

	var matchPos Position
	d.Mapping(n, d.in, func(key string, k, v *yaml.Node) {
		switch key {
		case "title":
			// Read above.
		case "id":
			s, ok := d.scalar(v, "id")
			if !ok {
				return
			}
			if !idPattern.MatchString(s) {
				d.Errorf(v, d.in, "id: invalid id %q: want lowercase letters, digits, '.', '_' and '-', e.g. checkout-down", s)
				return
			}
			rb.id = s
		case "match":
			s, ok := d.scalar(v, "match")
			if !ok {
				return
			}
			if s == "" {
				d.Errorf(v, d.in, "match is empty: write true to match every alert")
				return
			}
			rb.matchText = s
			matchPos = d.TextPos(v)
		case "severity":
			s, ok := d.scalar(v, "severity")
			if !ok || s == "" {
				return
			}
			sev, err := triaged.ParseSeverity(s)
			if err != nil {
				d.Errorf(v, d.in, "severity: invalid severity hint %q: want one of P1, P2, P3, P4", s)
				return
			}
			rb.severity = sev
		case "priority":
			s, ok := d.scalar(v, "priority")
			if !ok {
				return
			}
			p, err := strconv.Atoi(s)
			if err != nil {
				d.Errorf(v, d.in, "priority: invalid priority %q: want a whole number; the highest matching priority wins", s)
				return
			}
			rb.priority = p
		case "url":
			s, ok := d.scalar(v, "url")
			if !ok || s == "" {
				return
			}
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.Errorf(v, d.in, "url: invalid URL %q: want an absolute http or https URL", s)
				return
			}
			rb.url = s
		default:
			d.Errorf(k, d.in, "unknown key %q: want %s", key, frontMatterKeys)
		}
	})
	return matchPos
}

// scalar reads a string without its surrounding space; null reads as "".
func (d *decoder) scalar(n *yaml.Node, key string) (string, bool) {
	s, ok := d.Scalar(n, d.in, key)
	return strings.TrimSpace(s), ok
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
