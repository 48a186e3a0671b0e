package triaged

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/template"
)

// Limits bound what one webhook may carry, so that every alert ingest accepts can be stored and
// triaged: what is over a limit can never be, and is refused whole (a *LimitError, 413) instead of
// being retried by Alertmanager forever. A zero field is no limit.
type Limits struct {
	Alerts int // alerts in one webhook
	// AlertBytes bounds an alert's labels, annotations and generatorURL as stored (JSON-escaped),
	// and the group's context (receiver, status, groupKey, groupLabels, commonLabels,
	// externalURL), which every message of the group carries.
	AlertBytes           int
	Labels               int // labels of an alert, and of groupLabels and commonLabels
	Annotations          int // annotations of an alert
	NameBytes            int // a label or annotation name
	LabelValueBytes      int
	AnnotationValueBytes int
}

// MaxAlertBytes is the highest Limits.AlertBytes can be: a message holds the group's context and
// at least one alert, each at most this, and must stay under NATS' default maximum payload of
// 1 MiB.
const MaxAlertBytes = 256 << 10

// DefaultLimits are Alertmanager-realistic bounds with ample headroom. Of 299 alerts built from
// the public rule sets (kube-prometheus, etcd, Loki, awesome-prometheus-alerts), the largest has
// 10 labels, 3 annotations, a 57-byte label value, a 448-byte annotation and takes 1.1 KB as JSON.
// Hosted Prometheus services bound series at 30 labels, 1 KiB names and 2 KiB values (Mimir's
// defaults); an alert adds its rule's and external labels, and rule templates can put more text in
// a value, hence 64 labels and 16 KiB. Annotations carry prose: 64 KiB each, 128 KiB for the whole
// alert. 10,000 alerts is more than max_body_bytes holds at the size of a real alert (about 650
// bytes in Alertmanager's webhooks), so the body bound comes first for real webhooks.
func DefaultLimits() Limits {
	return Limits{
		Alerts:               10000,
		AlertBytes:           128 << 10,
		Labels:               64,
		Annotations:          64,
		NameBytes:            1 << 10,
		LabelValueBytes:      16 << 10,
		AnnotationValueBytes: 64 << 10,
	}
}

// LimitError is a webhook refused for a limit: Field is where, as in "alerts[3].labels.foo".
type LimitError struct {
	Field string
	Msg   string
}

func (e *LimitError) Error() string { return e.Field + ": " + e.Msg }

func overLimit(field, format string, n, limit int) *LimitError {
	return &LimitError{Field: field, Msg: fmt.Sprintf(format, n, limit)}
}

// check applies the limits to a decoded, validated webhook; the first problem found is returned.
func (l Limits) check(w *Webhook) error {
	if l.Alerts > 0 && len(w.Alerts) > l.Alerts {
		return overLimit("alerts", "%d alerts, limit %d: set max_alerts on Alertmanager's webhook receiver below it", len(w.Alerts), l.Alerts)
	}
	if err := l.checkPairs("groupLabels", "labels", w.GroupLabels, l.Labels, l.LabelValueBytes); err != nil {
		return err
	}
	if err := l.checkPairs("commonLabels", "labels", w.CommonLabels, l.Labels, l.LabelValueBytes); err != nil {
		return err
	}
	if l.AlertBytes > 0 {
		n := jsonLen(w.Receiver) + jsonLen(w.Status) + jsonLen(w.GroupKey) + jsonLen(w.ExternalURL) + pairsLen(w.GroupLabels) + pairsLen(w.CommonLabels)
		if n > l.AlertBytes {
			return overLimit("group", "receiver, status, groupKey, groupLabels, commonLabels and externalURL take %d bytes as JSON, limit %d", n, l.AlertBytes)
		}
	}
	for i := range w.Alerts {
		if err := l.checkAlert(&w.Alerts[i]); err != nil {
			err.Field = strings.TrimSuffix(fmt.Sprintf("alerts[%d].%s", i, err.Field), ".")
			return err
		}
	}
	return nil
}

func (l Limits) checkAlert(a *template.Alert) *LimitError {
	if err := l.checkPairs("labels", "labels", a.Labels, l.Labels, l.LabelValueBytes); err != nil {
		return err
	}
	if err := l.checkPairs("annotations", "annotations", a.Annotations, l.Annotations, l.AnnotationValueBytes); err != nil {
		return err
	}
	if l.AlertBytes > 0 {
		if n := pairsLen(a.Labels) + pairsLen(a.Annotations) + jsonLen(a.GeneratorURL); n > l.AlertBytes {
			return overLimit("", "labels, annotations and generatorURL take %d bytes as JSON, limit %d", n, l.AlertBytes)
		}
	}
	return nil
}

// checkPairs bounds a label or annotation map. Of several values over the limit, the one of the
// first name in order is named, so that the same webhook always gets the same reason.
func (l Limits) checkPairs(field, what string, kv template.KV, count, valueBytes int) *LimitError {
	if count > 0 && len(kv) > count {
		return overLimit(field, "%d "+what+", limit %d", len(kv), count)
	}
	var worst string
	found := false
	for k, v := range kv {
		if (l.NameBytes > 0 && len(k) > l.NameBytes || valueBytes > 0 && len(v) > valueBytes) && (!found || k < worst) {
			worst, found = k, true
		}
	}
	if !found {
		return nil
	}
	if l.NameBytes > 0 && len(worst) > l.NameBytes {
		// The name itself is not repeated: it is what is too long.
		return overLimit(field, "a name of %d bytes, limit %d", len(worst), l.NameBytes)
	}
	return overLimit(field+fieldName(worst), "value is %d bytes, limit %d", len(kv[worst]), valueBytes)
}

// fieldName is how a label or annotation name is appended to a field path: ".foo" for a
// Prometheus label name, else quoted, so that an error stays on one line.
func fieldName(k string) string {
	for i, c := range k {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return "[" + strconv.Quote(k) + "]"
		}
	}
	if k == "" {
		return `[""]`
	}
	return "." + k
}

// pairsLen is the bytes a label or annotation map takes as JSON, without braces and commas.
func pairsLen(kv template.KV) int {
	n := 0
	for k, v := range kv {
		n += jsonLen(k) + 1 + jsonLen(v)
	}
	return n
}

// JSONLen is the length of s as a JSON string as encoding/json writes it without HTML escaping,
// quotes included: what a value takes in a message or a record.
func JSONLen(s string) int { return jsonLen(s) }

// jsonLen is the length of s as a JSON string the way Encode writes it (encoding/json without
// HTML escaping), quotes included: what a value takes on the stream, which for a string of
// control characters is six times its length.
func jsonLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// Decode parses and validates an Alertmanager webhook body as DecodeWebhook does, then applies
// the limits: an error is a *LimitError when the webhook is well formed but over a limit.
func (l Limits) Decode(data []byte, received time.Time) (*Batch, error) {
	w, err := decodeWebhook(data)
	if err != nil {
		return nil, err
	}
	if err := l.check(w); err != nil {
		return nil, err
	}
	return w.Batch(received), nil
}
