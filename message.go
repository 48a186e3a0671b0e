package triaged

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// The alert message: an Alertmanager webhook becomes one notification message on the alerts
// stream (DecodeWebhook, then Batch.Encode), and triage reads it back with DecodeBatch. Both ends
// validate an alert with the same function, so what ingest accepts triage can read.

// WebhookVersion is the only Alertmanager webhook payload version understood.
const WebhookVersion = "4"

// Webhook is an Alertmanager webhook payload, field for field the JSON of Alertmanager's
// notify/webhook.Message. It is declared here because importing that package for four fields
// would pull Alertmanager's notifier (memberlist, OpenTelemetry, gRPC) into triaged.
type Webhook struct {
	template.Data

	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// Batch is the alerts of one webhook with the group context they share: the unit ingest
// validates and persists whole.
type Batch struct {
	Group      Group            `json:"group"`
	ReceivedAt time.Time        `json:"receivedAt"`
	Alerts     []template.Alert `json:"alerts"`
}

// Batch returns the webhook's alerts with their group context, as received at the given time.
// It does not validate: DecodeWebhook does.
func (w *Webhook) Batch(received time.Time) *Batch {
	return &Batch{ReceivedAt: received, Alerts: w.Alerts, Group: Group{
		Receiver:        w.Receiver,
		Status:          w.Status,
		Key:             w.GroupKey,
		Labels:          w.GroupLabels,
		CommonLabels:    w.CommonLabels,
		ExternalURL:     w.ExternalURL,
		Size:            len(w.Alerts),
		TruncatedAlerts: w.TruncatedAlerts,
	}}
}

// Split returns one Alert per alert of the batch, each carrying the group context: the values
// that Encode puts on the stream.
func (b *Batch) Split() []Alert {
	out := make([]Alert, len(b.Alerts))
	for i, a := range b.Alerts {
		out[i] = Alert{Alert: a, Group: b.Group, ReceivedAt: b.ReceivedAt}
	}
	return out
}

// DecodeWebhook parses and validates an Alertmanager webhook body under DefaultLimits. It checks
// every alert before returning any, so a bad payload is refused whole, with a reason naming the
// first field at fault: `alerts[2].status: "burning" is neither "firing" nor "resolved"`.
func DecodeWebhook(data []byte, received time.Time) (*Batch, error) {
	return DefaultLimits().Decode(data, received)
}

func decodeWebhook(data []byte) (*Webhook, error) {
	var w Webhook
	if err := json.Unmarshal(data, &w); err != nil {
		if terr := badTime(data, false); terr != nil {
			return nil, terr
		}
		return nil, fmt.Errorf("malformed webhook JSON: %s", DescribeJSONError(data, err))
	}
	if w.Version == "" {
		return nil, errors.New(`not an Alertmanager webhook: no "version" field`)
	}
	if w.Version != WebhookVersion {
		return nil, fmt.Errorf("unsupported webhook version %q: want %q", w.Version, WebhookVersion)
	}
	if len(w.Alerts) == 0 {
		return nil, errors.New(`not an Alertmanager webhook: "alerts" is empty or missing`)
	}
	for i := range w.Alerts {
		if err := validate(&w.Alerts[i]); err != nil {
			return nil, fmt.Errorf("alerts[%d].%w", i, err)
		}
	}
	return &w, nil
}

// DecodeBatch reads a notification message back (what Batch.Encode wrote) and validates every
// alert as DecodeWebhook did, since anyone may publish on the alerts subjects.
func DecodeBatch(data []byte) (*Batch, error) {
	var b Batch
	if err := json.Unmarshal(data, &b); err != nil {
		if terr := badTime(data, true); terr != nil {
			return nil, terr
		}
		return nil, fmt.Errorf("malformed notification JSON: %s", DescribeJSONError(data, err))
	}
	if len(b.Alerts) == 0 {
		return nil, errors.New(`alerts: empty: a notification carries at least one alert`)
	}
	for i := range b.Alerts {
		if err := validate(&b.Alerts[i]); err != nil {
			return nil, fmt.Errorf("alerts[%d].%w", i, err)
		}
	}
	return &b, nil
}

// validate checks what triage relies on. The error starts with the field's JSON name, so that
// DecodeWebhook can prefix the alert's index.
func validate(a *template.Alert) error {
	switch {
	case a.Status != StatusFiring && a.Status != StatusResolved:
		return fmt.Errorf("status: %q is neither %q nor %q", a.Status, StatusFiring, StatusResolved)
	case len(a.Labels) == 0:
		return errors.New("labels: empty: an alert is identified by its labels")
	case a.StartsAt.IsZero():
		return errors.New("startsAt: missing")
	case !encodableTime(a.StartsAt):
		return timeOutOfRange("startsAt", a.StartsAt)
	case !encodableTime(a.EndsAt):
		return timeOutOfRange("endsAt", a.EndsAt)
	case a.Fingerprint != "" && !validFingerprint(a.Fingerprint):
		// Without one, Alert.ID takes the label set's fingerprint, which is hexadecimal.
		return fmt.Errorf("fingerprint: %q is not hexadecimal", a.Fingerprint)
	}
	return nil
}

// encodableTime says whether t lies in years 0001–9999 in UTC. Reports carry times in UTC, and
// RFC 3339 has four digits for the year: an alert with a time outside would be accepted and its
// report could never be encoded, a failure no retry can mend. EndsAt's zero value, which
// Alertmanager sends for "not ended", is year 1 and passes.
func encodableTime(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

func timeOutOfRange(field string, t time.Time) error {
	return fmt.Errorf("%s: %s is outside years 0001–9999 in UTC", field, t.Format(time.RFC3339Nano))
}

// validFingerprint accepts Alertmanager's hexadecimal fingerprints. The fingerprint becomes part
// of NATS subjects, bucket keys and URLs, so anything else is refused.
func validFingerprint(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// MaxMessageBytes is the size Encode fills a notification message up to. A message holds at least
// one alert, so one may reach the group's context plus one alert (each at most MaxAlertBytes), and
// all stay well under NATS' default maximum payload of 1 MiB.
const MaxMessageBytes = 512 << 10

// AlertMessage is (part of) one Alertmanager notification encoded for the alerts stream: the
// group context and as many of its alerts as fill MaxMessageBytes. The group, not the alert, is
// the unit of triage: an incident is a group.
type AlertMessage struct {
	Group  string // the group key, to name the message in errors
	Status string // the group's status: the last token of the subject
	Alerts int    // how many alerts it carries
	// MsgID is JetStream's deduplication id: the same group with its alerts in the same states,
	// sent again (Alertmanager resends whole groups), is stored once.
	MsgID string
	Data  []byte // the Batch's JSON, which DecodeBatch reads
}

// Encode returns the batch as notification messages, each the group's context and the alerts
// that fill it up to MaxMessageBytes. Every message repeats the context, so the packing is what
// keeps the bytes stored within a small multiple of the webhook: a message ends only when the next
// alert would not fit, so it and the next one's first alert take more than MaxMessageBytes less
// the context, and the context (at most MaxAlertBytes, half of MaxMessageBytes) is repeated at
// most once for every half of its size in alerts. What is stored stays under three times the
// alerts plus one context; with DefaultLimits, under 1.7 times. The split depends only on the
// alerts, so a resent webhook is split alike and deduplicated.
func (b *Batch) Encode() ([]AlertMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// Label values are not HTML: escaping <, > and & would store six bytes for one.
	enc.SetEscapeHTML(false)
	encode := func(v any) (int, error) {
		if err := enc.Encode(v); err != nil {
			return 0, fmt.Errorf("encode notification of group %s: %w", b.Group.Key, err)
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		return buf.Len(), nil
	}
	buf.WriteString(`{"group":`)
	if _, err := encode(b.Group); err != nil {
		return nil, err
	}
	buf.WriteString(`,"receivedAt":`)
	if _, err := encode(b.ReceivedAt); err != nil {
		return nil, err
	}
	buf.WriteString(`,"alerts":[`)
	head := buf.Len()
	ends := make([]int, len(b.Alerts))
	for i := range b.Alerts {
		end, err := encode(&b.Alerts[i])
		if err != nil {
			return nil, err
		}
		ends[i] = end
	}
	all := buf.Bytes()
	var out []AlertMessage
	part := func(from, to int) {
		start := head
		if from > 0 {
			start = ends[from-1]
		}
		data := make([]byte, 0, head+ends[to-1]-start+to-from+2)
		data = append(data, all[:head]...)
		for i := from; i < to; i++ {
			if i > from {
				data = append(data, ',')
			}
			data = append(data, all[start:ends[i]]...)
			start = ends[i]
		}
		data = append(data, "]}"...)
		p := &Batch{Group: b.Group, ReceivedAt: b.ReceivedAt, Alerts: b.Alerts[from:to]}
		out = append(out, AlertMessage{Group: b.Group.Key, Status: p.status(), Alerts: to - from, MsgID: p.msgID(), Data: data})
	}
	from, size := 0, head+2
	for i := range b.Alerts {
		n := ends[i] - head
		if i > 0 {
			n = ends[i] - ends[i-1]
		}
		if i > from && size+n+1 > MaxMessageBytes {
			part(from, i)
			from, size = i, head+2
		}
		size += n + 1
	}
	if len(b.Alerts) > 0 {
		part(from, len(b.Alerts))
	}
	return out, nil
}

// status is the group's status as Alertmanager gave it, else firing while any alert fires.
func (b *Batch) status() string {
	if b.Group.Status == StatusFiring || b.Group.Status == StatusResolved {
		return b.Group.Status
	}
	for i := range b.Alerts {
		if b.Alerts[i].Status == StatusFiring {
			return StatusFiring
		}
	}
	return StatusResolved
}

// msgID hashes what makes a notification new: the receiver, the group and every alert's
// identity, state and start.
func (b *Batch) msgID() string {
	h := sha256.New()
	io.WriteString(h, b.Group.Receiver)
	h.Write([]byte{0})
	io.WriteString(h, b.Group.Key)
	for i := range b.Alerts {
		a := Alert{Alert: b.Alerts[i]}
		h.Write([]byte{0})
		io.WriteString(h, a.MsgID())
	}
	return "n:" + hex.EncodeToString(h.Sum(nil)[:20])
}

// DescribeJSONError puts the line and column of data where encoding/json gives only an offset:
// "line 2, column 14: json: cannot unmarshal number ...". An error without an offset (one from a
// type's own UnmarshalJSON) is its text alone. Every reader of JSON that people write by hand
// (webhooks, deploy events, triagetool's inputs) describes its errors with it, behind a word of
// its own ("malformed webhook JSON: ").
func DescribeJSONError(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var off int64 = -1
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(data))
	}
	if off < 0 {
		return err.Error()
	}
	line, col := 1, 1
	for _, c := range data[:min(off, int64(len(data)))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}
