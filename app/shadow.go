package app

import (
	"fmt"

	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/load"
	"github.com/triaged/triaged/rules"
	"github.com/triaged/triaged/triage"
)

// setupShadow builds the shadow rules of rules.shadow_files, if any, and returns the classifier
// and escalator the worker triages with: the rules in force, shown to the shadow set beside
// them. Without shadow files they are the rules in force alone.
func (a *App) setupShadow(parts *load.Parts) (triage.Classifier, triage.Escalator, error) {
	if len(a.cfg.Rules.ShadowFiles) == 0 {
		return a.rules, a.rules, nil
	}
	s, err := rules.NewShadow(a.cfg.Rules.ShadowFiles, rules.ShadowOptions{
		Registerer: a.registry, Logger: a.log, Location: a.cfg.Location(), Rules: parts.ShadowRules,
		MaxDisagreements: a.cfg.Rules.ShadowMaxDisagreements,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("rules.shadow_files: %w", err)
	}
	a.shadow = s
	a.runners = append(a.runners, s.Watch) // edited on disk: reloaded like the rules in force
	c, e := triage.WithShadow(a.rules, a.rules, s)
	return c, e, nil
}

// reloadShadow reloads the shadow rules, keeping the current ones on any error.
func (a *App) reloadShadow() error {
	if a.shadow == nil {
		return nil
	}
	if err := a.shadow.Reload(); err != nil {
		return fmt.Errorf("rules.shadow_files: %w", err)
	}
	return nil
}

// shadowRules is the shadow set for the API; nil (not a nil *rules.Shadow) when none runs.
func (a *App) shadowRules() api.ShadowRules {
	if a.shadow == nil {
		return nil
	}
	return a.shadow
}
