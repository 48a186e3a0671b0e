package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/httpin"
	"github.com/triaged/triaged/internal/srcpos"
	"github.com/triaged/triaged/rules"
)

// RulesEngine is what the rules API reads of the daemon's rules; *rules.Engine has it.
type RulesEngine interface {
	// Status is the rule set in force with its match counts and the latest reload.
	Status() rules.Status
	// Current is the rule set in force.
	Current() *rules.RuleSet
}

// Limits of POST /api/v1/rules/explain: it runs what anyone holding a write token sends, so
// every dimension of the work is bounded, and each evaluation runs under the expr cost policy of
// rule files.
const (
	DefaultExplainMaxBodyBytes = 1 << 20   // the request body
	DefaultExplainMaxAlerts    = 100       // alerts of a webhook explained in one request
	DefaultExplainMaxRuleBytes = 256 << 10 // candidate rule text: a 200-rule file is ~40 KiB
)

// RulesOptions configures the rules API.
type RulesOptions struct {
	Rules RulesEngine // required
	// Resolve decides an alert's service and environment as triage does: the service catalog's
	// Resolve. nil takes them from the alert's labels (triaged.LabelledService).
	Resolve func(*triaged.Alert) triaged.Service
	// Location is the time zone of hour, weekday and business_hours(), the daemon's; nil: UTC.
	Location *time.Location
	// MaxBodyBytes, MaxAlerts and MaxRuleBytes bound an explain request; default
	// DefaultExplainMaxBodyBytes, DefaultExplainMaxAlerts, DefaultExplainMaxRuleBytes.
	MaxBodyBytes int64
	MaxAlerts    int
	MaxRuleBytes int
	// ShadowSummary gives the "shadow" field of GET /api/v1/rules: what the shadow rule set
	// (rules.shadow_files, GET /api/v1/rules/shadow) is, encoded as JSON as it is. nil, or a nil
	// answer, gives null: no shadow rules.
	ShadowSummary func() any
	// Now is the evaluation time of an explain request that gives none; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

type rulesHandler struct {
	opts RulesOptions
}

// NewRulesHandler returns the handler of GET /api/v1/rules (the rules in force with their
// positions, match counts and the latest reload) and POST /api/v1/rules/explain (how the rules
// in force, or a candidate rule text, decide an alert or a webhook's alerts: what
// `triagetool explain --output json` prints). Nothing it does changes the rules in force. It
// answers JSON, errors included ({"status":"error","error":"..."}, with "errors" listing each
// problem of a candidate rule text at its line and column).
func NewRulesHandler(o RulesOptions) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultExplainMaxBodyBytes
	}
	if o.MaxAlerts <= 0 {
		o.MaxAlerts = DefaultExplainMaxAlerts
	}
	if o.MaxRuleBytes <= 0 {
		o.MaxRuleBytes = DefaultExplainMaxRuleBytes
	}
	if o.Resolve == nil {
		o.Resolve = triaged.LabelledService
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &rulesHandler{opts: o}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/rules", h.endpoint(h.list))
	mux.HandleFunc("/api/v1/rules/explain", h.endpoint(h.explain))
	return mux
}

func (h *rulesHandler) endpoint(f func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.fail(w, r, err)
		}
	}
}

// problemsError is a candidate rule text that does not compile: 422 with each problem.
type problemsError struct {
	msg      string
	problems []problemJSON
}

func (e *problemsError) Error() string { return e.msg }

type problemJSON struct {
	Pos     string `json:"pos"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	In      string `json:"in,omitempty"`
	Message string `json:"message"`
}

func (h *rulesHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	body := struct {
		Status string        `json:"status"`
		Error  string        `json:"error"`
		Errors []problemJSON `json:"errors,omitempty"`
	}{Status: "error", Error: err.Error()}
	code := http.StatusInternalServerError
	var he *httpin.Error
	var pe *problemsError
	switch {
	case errors.As(err, &pe):
		code, body.Errors = http.StatusUnprocessableEntity, pe.problems
	case errors.As(err, &he):
		code = he.Code
	}
	if code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", allowed(r.URL.Path))
	}
	level := slog.LevelDebug
	if code >= 500 {
		level = slog.LevelError
	}
	h.opts.Logger.Log(r.Context(), level, "rules API request failed", "path", r.URL.Path, "code", code, "err", body.Error)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}

func allowed(path string) string {
	if path == "/api/v1/rules/explain" {
		return http.MethodPost
	}
	return "GET, HEAD"
}

// rulesJSON is GET /api/v1/rules.
type rulesJSON struct {
	Version string   `json:"version"`
	Files   []string `json:"files"`
	// Embedded: no rule file is configured, the built-in default.rules.yml is in force.
	Embedded   bool        `json:"embedded"`
	Installed  time.Time   `json:"installed"`
	LastReload reloadJSON  `json:"last_reload"`
	Default    defaultJSON `json:"default"`
	Rules      []ruleJSON  `json:"rules"`
	Warnings   []string    `json:"warnings"`
	Shadow     any         `json:"shadow"`
}

type reloadJSON struct {
	Time    time.Time `json:"time"`
	Success bool      `json:"success"`
	Error   *string   `json:"error"`
}

type defaultJSON struct {
	Severity  string     `json:"severity"`
	Pos       string     `json:"pos"` // "" when no file sets it and the fallback applies
	Matches   uint64     `json:"matches"`
	LastMatch *time.Time `json:"last_match"`
}

type ruleJSON struct {
	Name        string     `json:"name"`
	Stage       string     `json:"stage"`
	Pos         string     `json:"pos"`
	File        string     `json:"file"`
	Line        int        `json:"line"`
	Column      int        `json:"column"`
	Description string     `json:"description,omitempty"`
	When        string     `json:"when"`
	Severity    string     `json:"severity"` // P1..P4, an expression yielding one, or "drop"
	Matches     uint64     `json:"matches"`
	LastMatch   *time.Time `json:"last_match"`
}

func (h *rulesHandler) list(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return httpin.Errorf(http.StatusMethodNotAllowed, "method %s not allowed: GET /api/v1/rules", r.Method)
	}
	st := h.opts.Rules.Status()
	out := rulesJSON{
		Version: st.Rules.Version(), Files: st.Rules.Files(), Embedded: st.Embedded,
		Installed:  st.Installed.UTC(),
		LastReload: reloadJSON{Time: st.LastReload.At.UTC(), Success: st.LastReload.Err == nil},
		Default: defaultJSON{Severity: st.Default.Severity, Pos: st.Default.Pos.String(),
			Matches: st.Default.Matches, LastMatch: timeOrNull(st.Default.LastMatch)},
		Rules:    make([]ruleJSON, 0, len(st.Classify)+len(st.Escalate)),
		Warnings: []string{},
	}
	if err := st.LastReload.Err; err != nil {
		msg := err.Error()
		out.LastReload.Error = &msg
	}
	for _, rs := range append(st.Classify, st.Escalate...) {
		sev := rs.Severity
		if rs.Drop {
			sev = "drop"
		}
		out.Rules = append(out.Rules, ruleJSON{
			Name: rs.Name, Stage: string(rs.Stage), Pos: rs.Pos.String(),
			File: rs.Pos.File, Line: rs.Pos.Line, Column: rs.Pos.Column,
			Description: rs.Description, When: rs.When, Severity: sev,
			Matches: rs.Matches, LastMatch: timeOrNull(rs.LastMatch),
		})
	}
	for _, warn := range st.Rules.Warnings() {
		out.Warnings = append(out.Warnings, warn.String())
	}
	if h.opts.ShadowSummary != nil {
		out.Shadow = h.opts.ShadowSummary()
	}
	return writeJSON(w, out)
}

func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// compileProblems lists each problem of a rule text that does not compile at its position.
func compileProblems(err error) []problemJSON {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]problemJSON, 0, len(errs))
	for _, e := range errs {
		var se *srcpos.Error
		if !errors.As(e, &se) {
			out = append(out, problemJSON{Pos: candidateName, Message: e.Error()})
			continue
		}
		out = append(out, problemJSON{Pos: se.Pos.String(), Line: se.Pos.Line, Column: se.Pos.Column, In: se.In, Message: se.Err.Error()})
	}
	return out
}
