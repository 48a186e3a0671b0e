// Package target fills probe and log-source targets from alert labels, and refuses every filled
// value that the allowlist pattern written next to it in the config does not accept.
//
// Alert labels are untrusted input: anyone who can post to Alertmanager, or get a label onto a
// metric, chooses them. A target is therefore a literal from the config, or a text/template over
// the labels that the config pairs with an allow pattern; the filled value must match that
// pattern whole before anything is contacted or executed.
package target

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	"unicode"

	"github.com/triaged/triaged/internal/fielderr"
)

// MaxFilled bounds a filled value: labels are attacker-sized, targets are not.
const MaxFilled = 4096

// ErrRefused is what every refused fill matches with errors.Is.
var ErrRefused = errors.New("target refused")

// RefusedError says why a filled value was not used. Its text is what a report shows.
type RefusedError struct {
	Value   string // the filled value, possibly cut short
	Pattern string // the allow pattern as written in the config
	Reason  string // set when the value was refused before the pattern was tried
}

func (e *RefusedError) Error() string {
	if e.Reason != "" {
		return "target refused: " + e.Reason
	}
	return fmt.Sprintf("target refused: filled value %q does not match allow pattern %q", e.Value, e.Pattern)
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Allow is a compiled allowlist pattern. It is anchored: the whole filled value must match.
type Allow struct {
	raw string
	re  *regexp.Regexp
}

// CompileAllow compiles an allow pattern, anchoring it as ^(?:pattern)$; "" gives nil (no pattern).
func CompileAllow(pattern string) (*Allow, error) {
	if pattern == "" {
		return nil, nil
	}
	// The group keeps "a|b" from turning into "^a|b$", and flags set inside the pattern
	// ((?m), (?s)) from reaching the anchors.
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern %q: %v", pattern, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("pattern %q matches the empty string", pattern)
	}
	return &Allow{raw: pattern, re: re}, nil
}

// String returns the pattern as written in the config.
func (a *Allow) String() string { return a.raw }

// funcs are the functions a target template may call besides text/template's built-ins. None
// reaches outside the process.
var funcs = template.FuncMap{
	"toLower": strings.ToLower,
	"toUpper": strings.ToUpper,
	// reReplaceAll is Prometheus's: {{ reReplaceAll ":[0-9]+$" "" .Labels.instance }} drops a port.
	"reReplaceAll": func(pattern, repl, text string) (string, error) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return "", err
		}
		return re.ReplaceAllString(text, repl), nil
	},
}

// data is all a template sees: {{ .Labels.instance }}, {{ index .Labels "pod-name" }}.
type data struct {
	Labels map[string]string
}

// Value is a config string that is either a literal or a template over alert labels.
type Value struct {
	raw   string
	tmpl  *template.Template
	allow *Allow
}

// Parse reads raw: a literal unless it contains "{{". A template needs allow, since the labels
// that fill it are untrusted; it is parsed and tried on an empty label set now, so a typo such as
// {{ .Label.instance }} is a config error and not a refused probe at 3 a.m.
func Parse(name, raw string, allow *Allow) (*Value, error) {
	if !strings.Contains(raw, "{{") {
		return &Value{raw: raw}, nil
	}
	if allow == nil {
		return nil, fmt.Errorf("is a template (%q) but no allow pattern is given: alert labels are untrusted, so the spec must say which filled values are acceptable with allow", raw)
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%v", err)
	}
	trial, err := t.Clone()
	if err != nil {
		return nil, err
	}
	if err := trial.Option("missingkey=zero").Execute(&capped{max: MaxFilled}, data{Labels: map[string]string{}}); err != nil && !errors.Is(err, errTooLong) {
		return nil, fmt.Errorf("%v", err)
	}
	return &Value{raw: raw, tmpl: t, allow: allow}, nil
}

// Literal returns a Value that is never a template, whatever it contains.
func Literal(s string) *Value { return &Value{raw: s} }

// IsTemplate says whether alert labels fill the value.
func (v *Value) IsTemplate() bool { return v.tmpl != nil }

// String returns the value as written in the config.
func (v *Value) String() string { return v.raw }

// Fill returns the value for an alert's labels: the literal itself, or the filled template if it
// passes every check. A refusal is a *RefusedError; nothing has been contacted when it is returned.
func (v *Value) Fill(labels map[string]string) (string, error) {
	if v.tmpl == nil {
		return v.raw, nil
	}
	if labels == nil {
		labels = map[string]string{}
	}
	w := &capped{max: MaxFilled}
	if err := v.tmpl.Execute(w, data{Labels: labels}); err != nil {
		if errors.Is(err, errTooLong) {
			return "", &RefusedError{Reason: fmt.Sprintf("filled value is longer than %d bytes", MaxFilled)}
		}
		return "", &RefusedError{Reason: "filling " + err.Error()}
	}
	s := w.String()
	if s == "" {
		return "", &RefusedError{Reason: fmt.Sprintf("template %q filled to an empty value", v.raw)}
	}
	// Control characters (newlines in particular) never belong in a target, whatever the
	// pattern says: a lax pattern like .+ must not let a header or a second line through.
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }); i >= 0 {
		return "", &RefusedError{Reason: fmt.Sprintf("filled value %q contains a control or invalid character", s)}
	}
	if !v.allow.re.MatchString(s) {
		return "", &RefusedError{Value: s, Pattern: v.allow.raw}
	}
	return s, nil
}

var errTooLong = errors.New("filled value too long")

// capped is a strings.Builder that fails once max bytes are exceeded, so a template ranging over
// a huge label cannot build a huge string.
type capped struct {
	strings.Builder
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > c.max {
		return 0, errTooLong
	}
	return c.Builder.Write(p)
}

// ParseField parses a spec field that alert labels may fill, with the allow pattern written next
// to it, naming whichever of the two is at fault. A field is required; an allow pattern with no
// template beside it is an error too, since it would check nothing and read as if it did.
func ParseField(field, allowField, raw, allowRaw string) (*Value, []*fielderr.Error) {
	if strings.TrimSpace(raw) == "" {
		return nil, []*fielderr.Error{fielderr.Errorf(field, "required")}
	}
	allow, err := CompileAllow(allowRaw)
	if err != nil {
		return nil, []*fielderr.Error{fielderr.Errorf(allowField, "%v", err)}
	}
	v, err := Parse(field, raw, allow)
	if err != nil {
		return nil, []*fielderr.Error{fielderr.Errorf(field, "%v", err)}
	}
	if allow != nil && !v.IsTemplate() {
		return nil, []*fielderr.Error{fielderr.Errorf(allowField, "set, but %s is not a template: an allow pattern only checks values filled from labels", field)}
	}
	return v, nil
}
