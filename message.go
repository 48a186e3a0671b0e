package triaged

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/alertmanager/template"
)

// The alert message: an Alertmanager webhook becomes one message per alert on the alerts stream
// (DecodeWebhook, then Batch.Encode), and triage reads each back with DecodeAlert. Both ends
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
	Group      Group
	ReceivedAt time.Time
	Alerts     []template.Alert
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

// DecodeWebhook parses and validates an Alertmanager webhook body. It checks every alert before
// returning any, so a bad payload is refused whole, with a reason naming the first field at
// fault: `alerts[2].status: "burning" is neither "firing" nor "resolved"`.
func DecodeWebhook(data []byte, received time.Time) (*Batch, error) {
	var w Webhook
	if err := json.Unmarshal(data, &w); err != nil {
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
	return w.Batch(received), nil
}

// DecodeAlert reads an alert message back and validates it as DecodeWebhook validated the
// webhook, since anyone may publish on the alerts subjects.
func DecodeAlert(data []byte) (*Alert, error) {
	var a Alert
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("malformed alert JSON: %s", DescribeJSONError(data, err))
	}
	if err := validate(&a.Alert); err != nil {
		return nil, err
	}
	return &a, nil
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
	case a.Fingerprint != "" && !validFingerprint(a.Fingerprint):
		// Without one, Alert.ID takes the label set's fingerprint, which is hexadecimal.
		return fmt.Errorf("fingerprint: %q is not hexadecimal", a.Fingerprint)
	}
	return nil
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

// AlertMessage is one alert encoded for the alerts stream, with what the stream files it by.
type AlertMessage struct {
	AlertID string // Alert.ID, to name the alert in errors
	Status  string // StatusFiring or StatusResolved: the last token of the subject
	MsgID   string // Alert.MsgID: JetStream's deduplication id
	Data    []byte // the Alert's JSON, which DecodeAlert reads
}

// Encode returns one message per alert of the batch. Each is exactly what json.Marshal of the
// Split alert gives; the group context they share is encoded once and spliced into each.
func (b *Batch) Encode() ([]AlertMessage, error) {
	tail, err := b.sharedTail()
	if err != nil {
		return nil, err
	}
	out := make([]AlertMessage, len(b.Alerts))
	for i := range b.Alerts {
		a := Alert{Alert: b.Alerts[i]}
		own, err := json.Marshal(&a.Alert)
		if err != nil {
			return nil, fmt.Errorf("encode alert %s: %w", a.ID(), err)
		}
		out[i] = AlertMessage{
			AlertID: a.ID(),
			Status:  a.Status,
			MsgID:   a.MsgID(),
			Data:    append(own[:len(own)-1], tail...),
		}
	}
	return out, nil
}

// sharedTail is the JSON that closes every alert message of the batch: its group context and
// receive time, after the alert's own fields.
func (b *Batch) sharedTail() ([]byte, error) {
	group, err := json.Marshal(&b.Group)
	if err != nil {
		return nil, fmt.Errorf("encode alert group %s: %w", b.Group.Key, err)
	}
	received, err := b.ReceivedAt.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode receive time: %w", err)
	}
	tail := make([]byte, 0, len(group)+len(received)+24)
	tail = append(tail, `,"group":`...)
	tail = append(tail, group...)
	tail = append(tail, `,"receivedAt":`...)
	tail = append(tail, received...)
	return append(tail, '}'), nil
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
