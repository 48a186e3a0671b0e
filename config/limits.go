package config

import (
	"time"

	"github.com/triaged/triaged"
)

// The bounds of the intake and of storage, and how they must relate: each is configurable, and a
// config whose bounds contradict each other (a webhook that could pass the door and never be
// stored) does not load.

func defaultIngest() Ingest {
	l := triaged.DefaultLimits()
	return Ingest{
		MaxBodyBytes:            4 << 20,
		PublishTimeout:          Duration(10 * time.Second),
		MaxAlerts:               l.Alerts,
		MaxAlertBytes:           l.AlertBytes,
		MaxLabels:               l.Labels,
		MaxAnnotations:          l.Annotations,
		MaxNameBytes:            l.NameBytes,
		MaxLabelValueBytes:      l.LabelValueBytes,
		MaxAnnotationValueBytes: l.AnnotationValueBytes,
		MaxInflightBytes:        32 << 20,
	}
}

// Limits are the ingest limits of one webhook.
func (c *Config) Limits() triaged.Limits {
	in := c.Ingest
	return triaged.Limits{
		Alerts:               in.MaxAlerts,
		AlertBytes:           in.MaxAlertBytes,
		Labels:               in.MaxLabels,
		Annotations:          in.MaxAnnotations,
		NameBytes:            in.MaxNameBytes,
		LabelValueBytes:      in.MaxLabelValueBytes,
		AnnotationValueBytes: in.MaxAnnotationValueBytes,
	}
}

// minStreamBytes is the least a stream or the bucket may be given: eight messages of NATS'
// default maximum payload, so that no single message can take a stream.
const minStreamBytes = 8 << 20

func (c *Config) validateLimits(v check) {
	in, n := c.Ingest, c.NATS
	v.inRange("ingest.max_alerts", in.MaxAlerts, 1, 1_000_000)
	v.inRange("ingest.max_alert_bytes", in.MaxAlertBytes, 1024, triaged.MaxAlertBytes)
	v.inRange("ingest.max_labels", in.MaxLabels, 1, 10_000)
	v.inRange("ingest.max_annotations", in.MaxAnnotations, 1, 10_000)
	// Above max_alert_bytes these are harmless: that limit binds first.
	for _, b := range []struct {
		key string
		n   int
	}{{"ingest.max_name_bytes", in.MaxNameBytes}, {"ingest.max_label_value_bytes", in.MaxLabelValueBytes}, {"ingest.max_annotation_value_bytes", in.MaxAnnotationValueBytes}} {
		if b.n < 1 {
			v.At(b.key, "must be at least 1, got %d", b.n)
		}
	}
	if in.MaxInflightBytes < in.MaxBodyBytes {
		v.At("ingest.max_inflight_bytes", "%d is below ingest.max_body_bytes %d: the largest webhooks would never be taken", in.MaxInflightBytes, in.MaxBodyBytes)
	}
	for _, s := range []struct {
		key string
		n   int64
	}{
		{"nats.alerts_max_bytes", n.AlertsMaxBytes},
		{"nats.reports_max_bytes", n.ReportsMaxBytes},
		{"nats.deadletters_max_bytes", n.DeadLettersMaxBytes},
		{"nats.deploys_max_bytes", n.DeploysMaxBytes},
		{"nats.incidents_max_bytes", n.IncidentsMaxBytes},
		{"nats.deliveries_max_bytes", n.DeliveriesMaxBytes},
		{"nats.graphs_max_bytes", n.GraphsMaxBytes},
		{"nats.history_max_bytes", n.HistoryMaxBytes},
	} {
		if s.n < minStreamBytes {
			v.At(s.key, "%d is below the minimum of %d bytes (8 MiB)", s.n, minStreamBytes)
		}
	}
	// A webhook stores at most about three times its body; a stream that cannot hold a few of the
	// largest would discard one webhook's messages to store the same webhook's next ones.
	if n.AlertsMaxBytes >= minStreamBytes && n.AlertsMaxBytes < 8*in.MaxBodyBytes {
		v.At("nats.alerts_max_bytes", "%d is below 8 times ingest.max_body_bytes (%d)", n.AlertsMaxBytes, 8*in.MaxBodyBytes)
	}
}
