package exprpolicy

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

type env struct {
	AlertName string            `expr:"alertname"`
	Labels    map[string]string `expr:"labels"`
	ActiveFor time.Duration     `expr:"active_for"`
}

var spec = Spec{Env: env{}, Kind: reflect.Bool, Yields: "true or false", Split: "split it"}

func TestCompileRefuses(t *testing.T) {
	big := strings.Repeat("alertname == \"x\" || ", MaxNodes/3) + "true"
	tests := []struct {
		name, text, want string
	}{
		{"wall clock", `now().Hour() > 9`, "unknown name now (1:1)\n | now().Hour() > 9\n | ^"},
		{"time zone files", `date("2026-01-01") != nil`, "unknown name date (1:1)"},
		{"time zone", `timezone("UTC") != nil`, "unknown name timezone (1:1)"},
		{"label as a pattern", `alertname matches labels.pattern`, "the pattern of matches must be a string literal (it is compiled once, at load time) (1:26)\n | alertname matches labels.pattern\n | .........................^"},
		{"bad pattern", `alertname matches "Disk("`, "error parsing regexp: missing closing ): `Disk(` (1:11)"},
		{"bad duration literal", `active_for > duration("5 minutes")`, `invalid duration "5 minutes": want e.g. 90s, 15m, 1h30m (1:14)`},
		{"wrong type", `labels.x`, "must yield true or false: expected bool, but got string"},
		{"too large", big, "too large: more than 500 nodes; split it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.text, spec)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCompileAndRun(t *testing.T) {
	p, err := Compile(`alertname matches "^Disk" && active_for > duration("15m")`, spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*env{{AlertName: "DiskFull", ActiveFor: time.Hour}, {AlertName: "DiskFull"}} {
		out, err := Run(p, e)
		if err != nil {
			t.Fatal(err)
		}
		if want := e.ActiveFor > 15*time.Minute; out != want {
			t.Errorf("%+v: got %v, want %v", e, out, want)
		}
	}
	// A computed duration stays a call, checked when it runs.
	if _, err := Compile(`active_for > duration(labels.for)`, spec); err != nil {
		t.Errorf("duration of a label: %v", err)
	}
}

// TestOptions: a program assembled from accepted expressions keeps the policy's vocabulary.
func TestOptions(t *testing.T) {
	if _, err := expr.Compile(`now()`, Options(env{})...); err == nil {
		t.Error("Options allow now()")
	}
	if _, err := expr.Compile(`active_for > duration("1h")`, Options(env{}, expr.AsBool())...); err != nil {
		t.Error(err)
	}
}

func TestHeadline(t *testing.T) {
	_, err := Compile(`now()`, spec)
	if got := Headline(err); got != "unknown name now (1:1)" {
		t.Errorf("Headline = %q", got)
	}
}

// upperLabels rewrites every labels.x into upper(labels.x).
type upperLabels struct{}

func (upperLabels) Visit(n *ast.Node) {
	if m, ok := (*n).(*ast.MemberNode); ok {
		if id, ok := m.Node.(*ast.IdentifierNode); ok && id.Value == "labels" {
			ast.Patch(n, &ast.BuiltinNode{Name: "upper", Arguments: []ast.Node{m}})
		}
	}
}

// TestSpecPatch: a vocabulary's own rewrite runs before type checking, so what it builds is
// checked (and costed) like what the author wrote.
func TestSpecPatch(t *testing.T) {
	s := spec
	s.Patch = []ast.Visitor{upperLabels{}}
	p, err := Compile(`labels.team == "DB"`, s)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := Run(p, &env{Labels: map[string]string{"team": "db"}}); err != nil || out != true {
		t.Errorf("patched: %v, %v; want true", out, err)
	}
	if _, err := Compile(`labels.team > 1`, s); err == nil || !strings.Contains(err.Error(), "mismatched types string and int") {
		t.Errorf("a patched expression of the wrong type: %v", err)
	}
}
