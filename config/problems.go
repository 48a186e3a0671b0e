package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Problems are the problems found in one config file and in what it names. Load refuses a config
// with any; package load adds those of the parts it builds, each placed at the key that names
// the part, so that one pass reports every problem, in the order a reader meets them.
type Problems struct {
	pos     positions
	context string // "loading FILE", when the config came from a file
	errs    []error
}

// At records a problem at a key path of the config ("sinks[1].type", "enrichment.redact[0]"),
// placed at that key's FILE:LINE:COL, or at the nearest enclosing key the file has when the key
// itself is not written (a default, or a required key left out).
func (p *Problems) At(path, format string, args ...any) {
	p.errs = append(p.errs, p.pos.errorf(path, format, args...))
}

// Where gives "FILE:LINE:COL: path" for a key path, placed as At places a problem, for what is
// reported about the config without refusing it (lint findings).
func (p *Problems) Where(path string) string { return p.pos.at(path) }

// Add records a problem that carries its own place, such as a rule or runbook file's
// FILE:LINE:COL; nil is ignored. An errors.Join is recorded as the problems it joins, each in its
// place in the list.
func (p *Problems) Add(err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok && addsNothing(err, j.Unwrap()) {
		for _, e := range j.Unwrap() {
			p.Add(e)
		}
		return
	}
	p.errs = append(p.errs, err)
}

// addsNothing tells an errors.Join, whose text is its parts' one per line, from an error that
// wraps several with words of its own (fmt.Errorf with two %w), which must stay whole.
func addsNothing(err error, parts []error) bool {
	texts := make([]string, 0, len(parts))
	for _, e := range parts {
		if e != nil {
			texts = append(texts, e.Error())
		}
	}
	return err.Error() == strings.Join(texts, "\n")
}

// Err is nil when there is no problem, else all of them joined: those placed in the config file
// in file order, then the others in the order they were recorded. A config read from a file
// prefixes them with `loading "FILE": `.
func (p *Problems) Err() error {
	if len(p.errs) == 0 {
		return nil
	}
	errs := slices.Clone(p.errs)
	inFileOrder(errs)
	err := errors.Join(errs...)
	if p.context != "" {
		return fmt.Errorf("%s: %w", p.context, err)
	}
	return err
}
