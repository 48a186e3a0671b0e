package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/alertmanager/template"

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

// PublishAlerts publishes every alert of b concurrently, one message each, and returns only
// when JetStream has acknowledged all of them, or with an error naming each that it did not.
// Each message carries the alert's MsgID, so publishing the same alerts again stores nothing new.
func (p *AlertPublisher) PublishAlerts(ctx context.Context, b *triaged.Batch) error {
	tail, err := messageTail(b)
	if err != nil {
		return err
	}
	futures := make([]jetstream.PubAckFuture, len(b.Alerts))
	var errs []error
	for i := range b.Alerts {
		a := triaged.Alert{Alert: b.Alerts[i]}
		data, err := encodeAlert(&a.Alert, tail)
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
			a := triaged.Alert{Alert: b.Alerts[i]}
			errs = append(errs, fmt.Errorf("publish alert %s: %w", a.ID(), err))
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("wait for JetStream to acknowledge alerts: %w", context.Cause(ctx)))...)
		}
	}
	return errors.Join(errs...)
}

// messageTail is the JSON shared by every alert message of a batch: its group context and
// receive time, encoded once per webhook rather than once per alert.
func messageTail(b *triaged.Batch) ([]byte, error) {
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

// encodeAlert produces exactly what json.Marshal(triaged.Alert) would, splicing in the shared
// tail after the alert's own fields.
func encodeAlert(a *template.Alert, tail []byte) ([]byte, error) {
	own, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	return append(own[:len(own)-1], tail...), nil
}
