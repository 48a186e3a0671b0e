package triaged

import (
	"encoding/json"
	"fmt"
	"time"
)

// badTime names the time field that decoding a webhook (or, with receivedAt, a notification
// message) failed on, nil when no time is at fault. time.Time's UnmarshalJSON says what was wrong
// but not where, and encoding/json adds no offset to its error: without this, a sender would get
// `parsing time "x" as ...` and have to guess which of a thousand alerts it meant.
func badTime(data []byte, receivedAt bool) error {
	var wire struct {
		ReceivedAt wireTime   `json:"receivedAt"`
		Alerts     wireAlerts `json:"alerts"`
	}
	// Decoding goes on past a value of the wrong type, as encoding/json does, and a syntax error
	// leaves nothing to look at.
	_ = json.Unmarshal(data, &wire)
	if receivedAt && wire.ReceivedAt.err != nil {
		return fmt.Errorf("receivedAt: %w", wire.ReceivedAt.err)
	}
	return wire.Alerts.err
}

// wireAlerts keeps the first bad time of the alerts, even when "alerts" is given twice.
type wireAlerts struct{ err error }

func (w *wireAlerts) UnmarshalJSON(raw []byte) error {
	if w.err != nil {
		return nil
	}
	var alerts []struct {
		StartsAt wireTime `json:"startsAt"`
		EndsAt   wireTime `json:"endsAt"`
	}
	_ = json.Unmarshal(raw, &alerts)
	for i, a := range alerts {
		if a.StartsAt.err != nil {
			w.err = fmt.Errorf("alerts[%d].startsAt: %w", i, a.StartsAt.err)
			break
		}
		if a.EndsAt.err != nil {
			w.err = fmt.Errorf("alerts[%d].endsAt: %w", i, a.EndsAt.err)
			break
		}
	}
	return nil
}

// wireTime keeps the first problem of a time field. A key given twice is read twice, and
// decoding stops at the first bad value, where the last would otherwise be kept.
type wireTime struct{ err error }

func (w *wireTime) UnmarshalJSON(raw []byte) error {
	var t time.Time
	if w.err != nil || json.Unmarshal(raw, &t) == nil {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		w.err = fmt.Errorf("want an RFC 3339 time as a JSON string, got a JSON %s", jsonKind(raw))
		return nil
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	w.err = fmt.Errorf("%q is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)", s)
	return nil
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	}
	return "number"
}
