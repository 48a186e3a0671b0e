package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
)

// AlertPublisher puts alert messages on the alerts stream.
type AlertPublisher struct {
	js    jetstream.JetStream
	names Names
}

// NewAlertPublisher returns a publisher of alert messages to n's alerts stream.
func NewAlertPublisher(js jetstream.JetStream, n Names) *AlertPublisher {
	return &AlertPublisher{js: js, names: n}
}

// PublishAlerts publishes the notification messages concurrently and returns only when JetStream
// has acknowledged all of them, or with an error naming each group it did not. Each goes out
// under its MsgID, so publishing the same notification again stores nothing new; duplicates says
// how many alerts were in messages JetStream already had. The data is published as given: the
// root package's Batch.Encode owns its encoding.
func (p *AlertPublisher) PublishAlerts(ctx context.Context, msgs []triaged.AlertMessage) (duplicates int, err error) {
	if nc := p.js.Conn(); nc != nil && !nc.IsConnected() {
		// Waiting out the publish timeout would only make Alertmanager wait too: it retries a 503.
		return 0, fmt.Errorf("NATS not connected (%s)", nc.Status())
	}
	futures := make([]jetstream.PubAckFuture, len(msgs))
	var errs []error
	for i := range msgs {
		m := &msgs[i]
		var err error
		futures[i], err = p.js.PublishMsgAsync(&nats.Msg{Subject: p.names.AlertSubject(m.Status), Data: m.Data}, jetstream.WithMsgID(m.MsgID))
		if err != nil {
			errs = append(errs, fmt.Errorf("publish notification of group %s: %w", m.Group, err))
		}
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				duplicates += msgs[i].Alerts
			}
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("publish notification of group %s: %w", msgs[i].Group, err))
		case <-ctx.Done():
			return duplicates, errors.Join(append(errs, fmt.Errorf("wait for JetStream to acknowledge alerts: %w", context.Cause(ctx)))...)
		}
	}
	return duplicates, errors.Join(errs...)
}
