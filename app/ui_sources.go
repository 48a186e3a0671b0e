package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/rules"
	"github.com/triaged/triaged/ui"
)

// ruleTexts are the rule files as they are on disk now, for the playground to start from: the
// embedded default rules when none is configured. A file larger than explain takes is cut there
// (explain then says so).
func (a *App) ruleTexts() []ui.RuleText {
	files := a.cfg.Rules.Files
	if len(files) == 0 {
		return []ui.RuleText{{Name: rules.DefaultFile, Text: string(rules.DefaultRules())}}
	}
	out := make([]ui.RuleText, len(files))
	for i, f := range files {
		out[i].Name = f
		text, err := readAtMost(f, api.DefaultExplainMaxRuleBytes+1)
		if err != nil {
			out[i].Err = err.Error()
		}
		out[i].Text = text
	}
	return out
}

func readAtMost(path string, n int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, n))
	return string(b), err
}

// maxRecentAlertBytes keeps the playground's page light: an alert larger than this (annotations
// may hold 128 KiB) is not offered; it can still be pasted.
const maxRecentAlertBytes = 32 << 10

// recentAlerts reads the latest alert records of the history stream, newest first. It walks the
// stream back from its end, looking at no more than 4×limit+16 messages (openings are mixed in).
type recentAlerts struct{ a *App }

func (r recentAlerts) RecentAlerts(ctx context.Context, limit int) ([]ui.RecentAlert, error) {
	a := r.a
	s, err := a.js.Stream(ctx, a.names.HistoryStream())
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", a.names.HistoryStream(), err)
	}
	st := s.CachedInfo().State
	subject := a.names.HistorySubject(history.KindAlert)
	var out []ui.RecentAlert
	for seq, probes := st.LastSeq, 4*limit+16; seq >= st.FirstSeq && seq > 0 && probes > 0 && len(out) < limit; seq, probes = seq-1, probes-1 {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("stream %s, message %d: %w", a.names.HistoryStream(), seq, err)
		}
		if m.Subject != subject {
			continue
		}
		rec, err := history.Decode(m.Data)
		if err != nil {
			continue
		}
		// The alert as Alertmanager sends it, without the group the daemon adds.
		js, err := json.MarshalIndent(rec.Alert.Alert, "", "  ")
		if err != nil || len(js) > maxRecentAlertBytes {
			continue
		}
		sev := ""
		switch {
		case rec.Dropped:
			sev = "dropped"
		case rec.Severity.Valid():
			sev = rec.Severity.String()
		}
		out = append(out, ui.RecentAlert{
			At: rec.At, AlertName: rec.Alert.Labels["alertname"], Status: rec.Alert.Status,
			Service: rec.Service.Name, Severity: sev, JSON: string(js),
		})
	}
	return out, nil
}
