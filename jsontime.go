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
		ReceivedAt wireTime `json:"receivedAt"`
		Alerts     []struct {
			StartsAt wireTime `json:"startsAt"`
			EndsAt   wireTime `json:"endsAt"`
		} `json:"alerts"`
	}
	if json.Unmarshal(data, &wire) != nil {
		return nil
	}
	if receivedAt && wire.ReceivedAt.err != nil {
		return fmt.Errorf("receivedAt: %w", wire.ReceivedAt.err)
	}
	for i, a := range wire.Alerts {
		if a.StartsAt.err != nil {
			return fmt.Errorf("alerts[%d].startsAt: %w", i, a.StartsAt.err)
		}
		if a.EndsAt.err != nil {
			return fmt.Errorf("alerts[%d].endsAt: %w", i, a.EndsAt.err)
		}
	}
	return nil
}

// wireTime keeps the first problem of a time field. A key given twice is read twice, and
// time.Time's decoding stops at the first bad value, where the last would otherwise be kept.
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
