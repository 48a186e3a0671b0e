package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/httpin"
	"github.com/triaged/triaged/rules"
)

// candidateName is the file name a candidate rule text has in positions and versions: the
// request's field, so that `rules:3:11` reads as line 3, column 11 of "rules".
const candidateName = "rules"

// explainRequest is the body of POST /api/v1/rules/explain: one of Alert and Webhook, in
// Alertmanager's webhook JSON.
type explainRequest struct {
	Alert   *triaged.Alert   `json:"alert"`
	Webhook *triaged.Webhook `json:"webhook"`
	// Rules is a candidate rule file's text, explained instead of the rules in force.
	Rules *string `json:"rules"`
	// Facts are the enrichment facts the escalation rules see, as `triagetool explain --facts`.
	Facts json.RawMessage `json:"facts"`
	// Now is the evaluation time, RFC 3339; the request's time when absent.
	Now string `json:"now"`
	// All tries every classification rule, also after the one that decided (explain --all).
	All bool `json:"all"`

	factsAt int64 // where Facts starts in the body
}

// explainResponse carries the explanations exactly as `triagetool explain --output json` prints
// them, one per alert, in order.
type explainResponse struct {
	// Rules is "in force" or "candidate".
	Rules          string                  `json:"rules"`
	RuleSetVersion string                  `json:"rule_set_version"`
	EvaluatedAt    string                  `json:"evaluated_at"`
	Warnings       []string                `json:"warnings,omitempty"` // lint findings of a candidate
	Explanations   []rules.ExplanationJSON `json:"explanations"`
}

func (h *rulesHandler) explain(w http.ResponseWriter, r *http.Request) error {
	var body bytes.Buffer
	if err := httpin.ReadJSON(w, r, h.opts.MaxBodyBytes, &body, "/api/v1/rules/explain"); err != nil {
		return err
	}
	data := body.Bytes()
	req, err := decodeExplainRequest(data)
	if err != nil {
		return err
	}

	var alerts []triaged.Alert
	switch {
	case req.Alert == nil && req.Webhook == nil:
		return badRequest(`give "alert" (one alert as in Alertmanager's webhook) or "webhook" (a whole webhook payload)`)
	case req.Alert != nil && req.Webhook != nil:
		return badRequest(`give "alert" or "webhook", not both`)
	case req.Alert != nil:
		alerts = []triaged.Alert{*req.Alert}
	default:
		alerts = rules.WebhookAlerts(req.Webhook)
		if len(alerts) == 0 {
			return badRequest(`webhook.alerts: empty: the webhook carries no alert to explain`)
		}
		if len(alerts) > h.opts.MaxAlerts {
			return httpin.Errorf(http.StatusRequestEntityTooLarge, "webhook.alerts: %d alerts, at most %d are explained in one request: send fewer", len(alerts), h.opts.MaxAlerts)
		}
	}
	for i := range alerts {
		rules.FillStatus(&alerts[i])
	}

	now := h.opts.Now()
	if req.Now != "" {
		if now, err = time.Parse(time.RFC3339Nano, req.Now); err != nil {
			return badRequest("now: invalid time %q: want RFC 3339, e.g. 2026-11-26T15:10:00Z", req.Now)
		}
	}
	now = now.In(h.opts.Location)

	var opts rules.ExplainOptions
	opts.All = req.All
	if len(req.Facts) > 0 && !bytes.Equal(req.Facts, []byte("null")) {
		if opts.Enrichment, err = rules.DecodeFacts(req.Facts); err != nil {
			return badRequest("facts: invalid: %s", describeIn(data, req.factsAt, err))
		}
	}

	out := explainResponse{Rules: "in force", EvaluatedAt: now.Format(time.RFC3339Nano)}
	rs := h.opts.Rules.Current()
	if req.Rules != nil {
		if rs, err = h.candidate(*req.Rules); err != nil {
			return err
		}
		out.Rules = "candidate"
		for _, warn := range rs.Warnings() {
			out.Warnings = append(out.Warnings, warn.String())
		}
	}
	out.RuleSetVersion = rs.Version()
	out.Explanations = make([]rules.ExplanationJSON, len(alerts))
	for i := range alerts {
		out.Explanations[i] = rs.ExplainJSON(&alerts[i], h.opts.Resolve(&alerts[i]), i, now, opts)
	}
	return writeJSON(w, out)
}

// decodeExplainRequest reads the body. Its own keys are strict, so that a misspelt one ("rule")
// is an error rather than ignored; the alert and the webhook are read as ingest reads them, so
// that a field a later Alertmanager adds is no error. Every error says where in the body: its
// line and column.
func decodeExplainRequest(data []byte) (*explainRequest, error) {
	invalid := func(err error) error {
		return badRequest("invalid JSON body: %s", triaged.DescribeJSONError(data, err))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil {
		return nil, invalid(err)
	} else if tok != json.Delim('{') {
		return nil, badRequest("invalid JSON body: want an object with \"alert\" or \"webhook\", not %s", describeToken(tok))
	}
	var req explainRequest
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalid(err)
		}
		key, _ := tok.(string)
		keyEnd := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, invalid(err)
		}
		// Where the value starts: after the key's colon and white space.
		base := keyEnd + int64(bytes.IndexFunc(data[keyEnd:], func(r rune) bool { return r != ':' && r != ' ' && r != '\t' && r != '\n' && r != '\r' }))
		var target any
		switch key {
		case "alert":
			target = &req.Alert
		case "webhook":
			target = &req.Webhook
		case "rules":
			target = &req.Rules
		case "facts":
			req.Facts, req.factsAt = raw, base
			continue
		case "now":
			target = &req.Now
		case "all":
			target = &req.All
		default:
			line, col := lineColumn(data, keyEnd-int64(len(key))-2)
			return nil, badRequest(`invalid JSON body: line %d, column %d: unknown field %q: want alert, webhook, rules, facts, now or all`, line, col, key)
		}
		if err := json.Unmarshal(raw, target); err != nil {
			return nil, badRequest("%s: invalid JSON: %s", key, describeIn(data, base, err))
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("invalid JSON body: more than one JSON value; send one object")
	}
	return &req, nil
}

// describeIn places an error of a value that starts at base in data: its line and column in data.
func describeIn(data []byte, base int64, err error) string {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		shifted := *typ
		shifted.Offset += base
		return triaged.DescribeJSONError(data, &shifted)
	}
	line, col := lineColumn(data, base)
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// lineColumn is the 1-based line and column of offset off in data.
func lineColumn(data []byte, off int64) (int, int) {
	off = max(0, min(off, int64(len(data))))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	return line, int(off) - bytes.LastIndexByte(data[:off], '\n')
}

func describeToken(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "a list"
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "true or false"
	default:
		return "a number"
	}
}

// candidate compiles a candidate rule text as a rule file is compiled (same loader, same expr
// cost policy), named "rules" in positions.
func (h *rulesHandler) candidate(text string) (*rules.RuleSet, error) {
	switch {
	case len(text) > h.opts.MaxRuleBytes:
		return nil, httpin.Errorf(http.StatusRequestEntityTooLarge, "rules: %d bytes, larger than the limit of %d bytes", len(text), h.opts.MaxRuleBytes)
	case len(bytes.TrimSpace([]byte(text))) == 0:
		return nil, badRequest("rules: empty: give the text of a rule file, or leave rules out to explain the rules in force")
	}
	rs, err := rules.Parse(candidateName, []byte(text))
	if err != nil {
		problems := compileProblems(err)
		return nil, &problemsError{
			msg:      fmt.Sprintf("rules: the candidate rule text does not compile (%d %s): %v", len(problems), plural(len(problems), "problem", "problems"), err),
			problems: problems,
		}
	}
	return rs, nil
}

func badRequest(format string, args ...any) error {
	return httpin.Errorf(http.StatusBadRequest, format, args...)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
