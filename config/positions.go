package config

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/internal/srcpos"
)

// located is a config problem with its place in the file, so problems can be listed in the
// order a reader meets them.
type located struct {
	line, col int
	text      string
}

func (e *located) Error() string { return e.text }

// locatedAt is a problem at node n, which is written "where: msg".
func locatedAt(n *yaml.Node, where, msg string) *located {
	return &located{line: n.Line, col: n.Column, text: where + ": " + msg}
}

// inFileOrder sorts errs as Problems.Err lists them: those placed in the config file by line and
// column, then the others (placed in a file the config names, or nowhere) in the order they came.
// srcpos puts what has no position first, so the others are given a second "file" instead.
func inFileOrder(errs []error) {
	const here, elsewhere = "config", "elsewhere"
	srcpos.SortFunc(errs, []string{here, elsewhere}, func(err error) (srcpos.Position, bool) {
		var l *located
		if errors.As(err, &l) && l.line > 0 {
			return srcpos.Position{File: here, Line: l.line, Column: l.col}, true
		}
		return srcpos.Position{File: elsewhere}, true
	})
}

// positions maps a key path ("triage.workers", "sinks[1].type") to its YAML node.
type positions struct {
	file  string
	nodes map[string]*yaml.Node
}

// at gives "FILE:LINE:COL: path" for a key path; a key that is absent (a required key left
// out) is placed at the nearest enclosing key that is present.
func (p positions) at(path string) string {
	if n := p.node(path); n != nil {
		return fmt.Sprintf("%s:%d:%d: %s", p.file, n.Line, n.Column, path)
	}
	if p.file == "" { // the built-in defaults
		return path
	}
	return fmt.Sprintf("%s: %s", p.file, path)
}

// node is the node of path, or of the nearest enclosing key that is present.
func (p positions) node(path string) *yaml.Node {
	for try := path; try != ""; try = parentPath(try) {
		if n, ok := p.nodes[try]; ok {
			return n
		}
	}
	return nil
}

// atNode finds the key path of a node, for errors raised while decoding it.
func (p positions) atNode(n *yaml.Node) string {
	for path, pn := range p.nodes {
		if pn == n {
			return p.at(path)
		}
	}
	return fmt.Sprintf("%s:%d:%d", p.file, n.Line, n.Column)
}

func parentPath(path string) string {
	if i := strings.LastIndexAny(path, ".["); i > 0 {
		return path[:i]
	}
	return ""
}

func (p positions) errorf(path, format string, args ...any) error {
	e := &located{text: p.at(path) + ": " + fmt.Sprintf(format, args...)}
	if n := p.node(path); n != nil {
		e.line, e.col = n.Line, n.Column
	}
	return e
}
