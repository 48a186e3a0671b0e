package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
)

// AlertPublisher puts alerts on the alerts stream, one message each.
type AlertPublisher struct {
	js    jetstream.JetStream
	names Names
}

// NewAlertPublisher returns a publisher of alerts to n's alerts stream.
func NewAlertPublisher(js jetstream.JetStream, n Names) *AlertPublisher {
	return &AlertPublisher{js: js, names: n}
}

// PublishAlerts publishes every alert concurrently and returns only when JetStream has
// acknowledged all of them, or with an error naming each that it did not. Each message carries
// the alert's MsgID, so publishing the same alerts again stores nothing new.
func (p *AlertPublisher) PublishAlerts(ctx context.Context, alerts []triaged.Alert) error {
	futures := make([]jetstream.PubAckFuture, len(alerts))
	var errs []error
	for i := range alerts {
		a := &alerts[i]
		data, err := json.Marshal(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("encode alert %s: %w", a.ID(), err))
			continue
		}
		msg := &nats.Msg{Subject: p.names.AlertSubject(a.Status), Data: data}
		futures[i], err = p.js.PublishMsgAsync(msg, jetstream.WithMsgID(a.MsgID()))
		if err != nil {
			errs = append(errs, fmt.Errorf("publish alert %s: %w", a.ID(), err))
		}
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, fmt.Errorf("publish alert %s: %w", alerts[i].ID(), err))
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("wait for JetStream to acknowledge alerts: %w", context.Cause(ctx)))...)
		}
	}
	return errors.Join(errs...)
}
