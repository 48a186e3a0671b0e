// Package load builds everything a triaged config names — the rule set, the runbook library, the
// service catalog, the redactor, the report template and the sinks — or reports every problem of
// the config and of those parts in one pass. It is the one load path of the daemon (app.New) and
// of `triagetool check config`, so a config that passes the check starts.
//
// Loading starts nothing: no NATS object, no listener, no goroutine. It reads the files the config
// names (rule files, runbook directories, the report template) but writes none: sinks are checked,
// not opened, since opening a file sink creates its file (see notify.SinkPlan).
package load

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/triaged/triaged/catalog"
	"github.com/triaged/triaged/config"
	"github.com/triaged/triaged/internal/fielderr"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/redact"
	"github.com/triaged/triaged/route"
	"github.com/triaged/triaged/rules"
	"github.com/triaged/triaged/runbooks"
)

// Parts are a config and everything it names, built and checked.
type Parts struct {
	Config   *config.Config
	Rules    *rules.RuleSet // rules.files, or the built-in rules
	Runbooks *runbooks.Library
	Catalog  *catalog.Catalog
	Redactor *redact.Redactor
	Renderer *notify.Renderer
	// Sinks are checked, in config order, and not opened: the daemon opens each, with its
	// teardown beside it.
	Sinks []*notify.SinkPlan
	// Router says which sinks get which report (routes:); every sink gets every report when
	// the config has no routes.
	Router *route.Router
	// Warnings are lint findings of the config, each placed at its key: valid, but almost
	// certainly not meant (a sink no route names). `triagetool check config` prints them.
	Warnings []string
	// ShadowRules are rules.shadow_files, nil when there are none.
	ShadowRules *rules.RuleSet
}

// File loads the config at path, "" for the built-in defaults, and builds every part it names.
// The error lists every problem found, prefixed with `loading "PATH": `: those of the config file
// and those placed at the key naming a part (`FILE:LINE:COL: enrichment.redact[0]: ...`) in file
// order, then those of other files (`team.rules.yml:4:11: rule "x": ...`, `runbooks/x.md:3:1:
// ...`).
func File(path string) (*Parts, error) {
	if path == "" {
		return Bytes(nil, "") // an empty config is the defaults
	}
	return build(config.ParseFile(path))
}

// Bytes is File for a config held in memory; filename places its problems and resolves its
// relative paths.
func Bytes(data []byte, filename string) (*Parts, error) {
	return build(config.Parse(data, filename))
}

func build(cfg *config.Config, probs *config.Problems) (*Parts, error) {
	if cfg == nil {
		return nil, probs.Err() // the file did not decode: there is nothing to build from
	}
	p := &Parts{
		Config:   cfg,
		Rules:    loadRules(cfg, probs),
		Runbooks: loadRunbooks(cfg, probs),
		Catalog:  compileCatalog(cfg, probs),
		Redactor: compileRedactor(cfg, probs),
		Renderer: loadTemplate(cfg, probs),
		Sinks:    planSinks(cfg, probs),
	}
	p.Router, p.Warnings = compileRoutes(cfg, p.Sinks, probs)
	p.ShadowRules = loadShadowRules(cfg, probs)
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

func loadRules(cfg *config.Config, probs *config.Problems) *rules.RuleSet {
	if slices.ContainsFunc(cfg.Rules.Files, func(f string) bool { return strings.TrimSpace(f) == "" }) {
		return nil // the config has reported the empty file name at its key
	}
	rs, err := rules.LoadFiles(cfg.Rules.Files...)
	probs.Add(err) // each problem placed in its rule file
	return rs
}

func loadShadowRules(cfg *config.Config, probs *config.Problems) *rules.RuleSet {
	files := cfg.Rules.ShadowFiles
	if len(files) == 0 || slices.ContainsFunc(files, func(f string) bool { return strings.TrimSpace(f) == "" }) {
		return nil // none, or the config has reported the empty file name at its key
	}
	rs, err := rules.LoadFiles(files...)
	probs.Add(err) // each problem placed in its rule file
	return rs
}

func loadRunbooks(cfg *config.Config, probs *config.Problems) *runbooks.Library {
	var readable []string
	for i, d := range cfg.Enrichment.RunbookDirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			probs.At(fmt.Sprintf("enrichment.runbook_dirs[%d]", i), "%q is not a readable directory", d)
			continue
		}
		readable = append(readable, d)
	}
	// The readable directories are loaded even when another is missing, for their problems.
	lib, err := runbooks.Load(readable...)
	probs.Add(err) // each problem placed in its runbook file
	return lib
}

func compileCatalog(cfg *config.Config, probs *config.Problems) *catalog.Catalog {
	cat, errs := catalog.Compile(cfg.Services)
	for _, fe := range errs {
		probs.At("services"+fe.Field, "%s", fe.Msg)
	}
	return cat.WithLabelling(cfg.Labelling())
}

func compileRedactor(cfg *config.Config, probs *config.Problems) *redact.Redactor {
	r, err := redact.New(cfg.Enrichment.Redact)
	for _, e := range joined(err) {
		var pe *redact.PatternError
		if errors.As(e, &pe) {
			probs.At(fmt.Sprintf("enrichment.redact[%d]", pe.Index), "%q: %v", pe.Pattern, pe.Err)
		} else {
			probs.At("enrichment.redact", "%v", e)
		}
	}
	return r
}

func loadTemplate(cfg *config.Config, probs *config.Problems) *notify.Renderer {
	r, err := notify.NewRenderer(cfg.Report.Template)
	probs.Add(err) // placed in the template file by text/template
	return r
}

func planSinks(cfg *config.Config, probs *config.Problems) []*notify.SinkPlan {
	var plans []*notify.SinkPlan
	for i, s := range cfg.Sinks {
		plan, err := notify.PlanSink(s)
		for _, fe := range fielderr.List(err) {
			probs.At(strings.TrimSuffix(fmt.Sprintf("sinks[%d].%s", i, fe.Field), "."), "%s", fe.Msg)
		}
		plans = append(plans, plan)
	}
	return plans
}

// joined lists the errors an errors.Join holds, or err alone.
func joined(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
