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
		ReceivedAt json.RawMessage `json:"receivedAt"`
		Alerts     []struct {
			StartsAt json.RawMessage `json:"startsAt"`
			EndsAt   json.RawMessage `json:"endsAt"`
		} `json:"alerts"`
	}
	if json.Unmarshal(data, &wire) != nil {
		return nil
	}
	if receivedAt {
		if err := checkTime("receivedAt", wire.ReceivedAt); err != nil {
			return err
		}
	}
	for i, a := range wire.Alerts {
		if err := checkTime(fmt.Sprintf("alerts[%d].startsAt", i), a.StartsAt); err != nil {
			return err
		}
		if err := checkTime(fmt.Sprintf("alerts[%d].endsAt", i), a.EndsAt); err != nil {
			return err
		}
	}
	return nil
}

func checkTime(field string, raw json.RawMessage) error {
	var t time.Time
	if raw == nil || json.Unmarshal(raw, &t) == nil {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return fmt.Errorf("%s: want an RFC 3339 time as a JSON string, got a JSON %s", field, jsonKind(raw))
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Errorf("%s: %q is not an RFC 3339 time (e.g. 2026-11-26T15:04:05Z)", field, s)
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
