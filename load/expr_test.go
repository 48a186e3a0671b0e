package load_test

import (
	"strings"
	"testing"

	"github.com/triaged/triaged/load"
)

// TestCatalogExprPolicy: a catalog match expression is compiled under the policy of the rules
// and runbooks, and its problems are placed at the expression in the config file.
func TestCatalogExprPolicy(t *testing.T) {
	_, err := load.File("testdata/catalog-expr.bad.yml")
	if err == nil {
		t.Fatal("loaded a catalog whose match reads the clock")
	}
	for _, want := range []string{
		"testdata/catalog-expr.bad.yml:4:13: services[0].match.expr: unknown name now (1:1)\n     | now().Hour() > 9",
		"testdata/catalog-expr.bad.yml:7:13: services[1].match.expr: the pattern of matches must be a string literal (it is compiled once, at load time) (1:26)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
}
