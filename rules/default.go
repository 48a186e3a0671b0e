package rules

import (
	_ "embed"
	"fmt"
	"sync"
)

// DefaultFile is the name under which the embedded default rules appear in errors, warnings and
// explanations.
const DefaultFile = "default.rules.yml"

//go:embed default.rules.yml
var defaultRules []byte

// DefaultRules returns the text of the embedded default rule file, e.g. for `triagetool` to print
// as a starting point.
func DefaultRules() []byte { return append([]byte(nil), defaultRules...) }

// defaultRuleSet compiles the embedded file on first use, not at program start.
var defaultRuleSet = sync.OnceValue(func() *RuleSet {
	rs, err := Parse(DefaultFile, defaultRules)
	if err != nil {
		// A test loads the embedded file; this cannot happen in a released binary.
		panic(fmt.Sprintf("embedded %s: %v", DefaultFile, err))
	}
	return rs
})

// Default returns the rule set triaged uses when no rule file is configured: the embedded
// default.rules.yml. It maps the common labels (severity, env/environment) and well-known alert
// names to P1..P4; its unit tests are default.rules.test.yml.
func Default() *RuleSet { return defaultRuleSet() }
