package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/testkit"
)

// waitOpened waits until the reports stream holds at least groups openings.
func waitOpened(t *testing.T, r *running, groups int) {
	t.Helper()
	rd := newReportReader(t, r)
	testkit.Eventually(t, stormWait(), fmt.Sprintf("%d opened reports", groups), func() bool {
		reps, ok := rd.read()
		if !ok {
			return false
		}
		n := 0
		for _, rep := range reps {
			if rep.Event == triaged.EventOpened {
				n++
			}
		}
		return n >= groups
	})
}

// clusterReports reads the whole reports stream through r's connection.
func clusterReports(t *testing.T, r *running) []streamReport {
	t.Helper()
	rd := newReportReader(t, r)
	var reps []streamReport
	testkit.Eventually(t, 30*time.Second, "the whole reports stream read", func() bool {
		var ok bool
		reps, ok = rd.read()
		return ok
	})
	return reps
}

// reportReader reads the whole reports stream, as readReports does, but takes what a cluster
// recovering from a lost or frozen node answers for what it is: a request that times out while
// a stream leader is elected, or an ordered consumer — one replica, placed on any of the
// stream's nodes — that lands on the node that came back and reads only what that node has
// caught up with, is tried again. Each distinct failure is logged once.
type reportReader struct {
	t     *testing.T
	js    jetstream.JetStream
	names broker.Names
	seen  map[string]bool
}

func newReportReader(t *testing.T, r *running) *reportReader {
	js, err := jetstream.New(r.app.Conn())
	if err != nil {
		t.Fatal(err)
	}
	return &reportReader{t: t, js: js, names: broker.MustNames(r.app.Config().NATS.Prefix), seen: map[string]bool{}}
}

// read is the whole stream, or false after logging why not.
func (rd *reportReader) read() ([]streamReport, bool) {
	reps, err := rd.try()
	if err != nil {
		if msg := err.Error(); !rd.seen[msg] {
			rd.seen[msg] = true
			rd.t.Logf("reading the reports stream (tried again): %v", err)
		}
		return nil, false
	}
	return reps, true
}

func (rd *reportReader) try() ([]streamReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := rd.js.Stream(ctx, rd.names.ReportsStream())
	if err != nil {
		return nil, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	total := int(info.State.Msgs)
	var out []streamReport
	if total == 0 {
		return out, nil
	}
	c, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	for len(out) < total {
		batch, err := c.Fetch(total-len(out), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		n := len(out)
		for m := range batch.Messages() {
			var rep streamReport
			if err := json.Unmarshal(m.Data(), &rep); err != nil {
				rd.t.Fatalf("report on %s: %v", m.Subject(), err)
			}
			out = append(out, rep)
		}
		if len(out) == n {
			where := "?"
			if ci := c.CachedInfo(); ci != nil && ci.Cluster != nil {
				where = ci.Cluster.Leader
			}
			return nil, fmt.Errorf("read %d of the %d reports on the stream (its leader %s), the ordered consumer on %s: %v", n, total, leaderOf(info), where, batch.Error())
		}
	}
	return out, nil
}

func leaderOf(info *jetstream.StreamInfo) string {
	if info.Cluster == nil {
		return "?"
	}
	return info.Cluster.Leader
}
