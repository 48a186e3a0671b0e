package promtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// QueryLogEntry is one query Prometheus evaluated, as its query log (global.query_log_file)
// recorded it.
type QueryLogEntry struct {
	// Query is the PromQL exactly as Prometheus received it, byte for byte (the harness' mark
	// removed from its own).
	Query string
	// Start and End are the evaluation times: equal, with Step 0, for an instant query.
	Start, End time.Time
	Step       time.Duration
	// Path is the HTTP API path the query came in on (/api/v1/query, /api/v1/query_range);
	// empty for a rule evaluation.
	Path string
	// RuleGroup names the rule group of a rule evaluation; empty for a query over HTTP.
	RuleGroup string
	// Harness says the query came from Prometheus.Query or Value rather than from the code
	// under test.
	Harness bool
	// Logged is when Prometheus logged it.
	Logged time.Time
}

// logLine is one line of Prometheus 2.42's query log, e.g.
//
//	{"httpRequest":{"clientIP":"127.0.0.1","method":"POST","path":"/api/v1/query"},
//	 "params":{"end":"2026-12-01T19:48:04.252Z","query":"up","start":"2026-12-01T19:48:04.252Z","step":0},
//	 "stats":{…},"ts":"2026-12-01T19:48:04.253Z"}
//
// with "ruleGroup":{"file":…,"name":…} instead of "httpRequest" for a rule evaluation.
type logLine struct {
	HTTPRequest *struct {
		Path string `json:"path"`
	} `json:"httpRequest"`
	RuleGroup *struct {
		Name string `json:"name"`
	} `json:"ruleGroup"`
	Params struct {
		Query string    `json:"query"`
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
		Step  int64     `json:"step"` // seconds
	} `json:"params"`
	TS time.Time `json:"ts"`
}

// QueryLog returns every query Prometheus has logged so far, oldest first. A query shows up
// once Prometheus has evaluated it, so a query a test has seen answered is already there. An
// unreadable log marks the test that started Prometheus failed (Errorf, so QueryLog may be called
// from any goroutine) and returns nil.
func (p *Prometheus) QueryLog() []QueryLogEntry {
	p.t.Helper()
	b, err := os.ReadFile(p.queryLog)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing evaluated yet
	}
	if err == nil {
		var entries []QueryLogEntry
		if entries, err = parseQueryLog(b); err == nil {
			return entries
		}
	}
	p.t.Errorf("promtest: query log %s: %v", p.queryLog, err)
	return nil
}

// parseQueryLog parses the complete lines of a query log; a last line without its newline is
// one Prometheus is still writing, left for the next read.
func parseQueryLog(b []byte) ([]QueryLogEntry, error) {
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	var entries []QueryLogEntry
	for n, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var l logLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		e := QueryLogEntry{
			Query: l.Params.Query,
			Start: l.Params.Start, End: l.Params.End,
			Step:   time.Duration(l.Params.Step) * time.Second,
			Logged: l.TS,
		}
		if l.HTTPRequest != nil {
			e.Path = l.HTTPRequest.Path
		}
		if l.RuleGroup != nil {
			e.RuleGroup = l.RuleGroup.Name
		}
		if q, ok := strings.CutSuffix(e.Query, harnessMark); ok {
			e.Query, e.Harness = q, true
		}
		entries = append(entries, e)
	}
	return entries, nil
}
