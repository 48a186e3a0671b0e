package triaged

import (
	"strings"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
)

// Alert statuses, as Alertmanager writes them.
const (
	StatusFiring   = string(model.AlertFiring)
	StatusResolved = string(model.AlertResolved)
)

// Alert is one alert of an Alertmanager webhook together with the context of the group it came
// in. It is the message on the alerts stream (Batch.Encode writes it, DecodeAlert reads it): one
// per alert, so each is triaged, acknowledged and retried on its own. Labels and annotations are
// untrusted input.
type Alert struct {
	template.Alert

	Group Group `json:"group"`
	// ReceivedAt is when the webhook reached triaged: the start of the triage latency.
	ReceivedAt time.Time `json:"receivedAt"`

	// Service and Environment are what triage mapped the alert to — the service catalog's entry,
	// else the alert's own labels — so that the severity rules see the same service the report
	// names. They are decided by triage, not carried in the message.
	Service     string `json:"-"`
	Environment string `json:"-"`
}

// Group is the Alertmanager notification an alert arrived in.
type Group struct {
	Receiver     string      `json:"receiver"`
	Status       string      `json:"status"`
	Key          string      `json:"groupKey"`
	Labels       template.KV `json:"groupLabels"`
	CommonLabels template.KV `json:"commonLabels"`
	ExternalURL  string      `json:"externalURL"`
	// Size is how many alerts the webhook carried; TruncatedAlerts how many more Alertmanager left
	// out because of the receiver's max_alerts.
	Size            int    `json:"size"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

// Name is the alertname label.
func (a *Alert) Name() string { return a.Labels[model.AlertNameLabel] }

// Resolved reports whether this alert (not its group) has resolved.
func (a *Alert) Resolved() bool { return a.Status == StatusResolved }

// ID is the alert's identity: the fingerprint of its label set, computed here as Alertmanager
// computes its own. The fingerprint a sender writes is not trusted: a forged resolution with a
// guessed fingerprint resolves only an alert whose labels it names.
func (a *Alert) ID() string {
	ls := make(model.LabelSet, len(a.Labels))
	for k, v := range a.Labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// MsgID is the JetStream deduplication id of this alert's message: the same alert in the same
// state sent twice (Alertmanager resends whole groups) is stored once.
func (a *Alert) MsgID() string {
	var b strings.Builder
	b.Grow(64)
	b.WriteString(a.ID())
	b.WriteByte(':')
	b.WriteString(a.Status)
	b.WriteByte(':')
	b.WriteString(a.StartsAt.UTC().Format(time.RFC3339Nano))
	return b.String()
}

// IncidentID names the incident this alert opens or resolves: one firing episode of one alert,
// from its startsAt to its resolution. It is safe in NATS subjects, KV keys and URLs.
func (a *Alert) IncidentID() string {
	return a.ID() + "-" + a.StartsAt.UTC().Format("20060102T150405Z")
}
