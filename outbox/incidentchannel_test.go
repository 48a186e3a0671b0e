package outbox_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
)

// channelChat is a chat sink that opens an incident channel: it saves the channel mid-delivery,
// then fails the first attempt as a crash would; a resolution schedules the archive.
type channelChat struct {
	mu       sync.Mutex
	created  int
	seen     []*notify.Thread // the thread each attempt was handed
	archived []string
	after    time.Duration
}

func (c *channelChat) Name() string { return "chat" }

func (c *channelChat) Deliver(ctx context.Context, d notify.Delivery) (*notify.Thread, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, d.Thread)
	th := d.Thread
	if th == nil || th.Incident == nil {
		c.created++
		th = &notify.Thread{Incident: &notify.IncidentChannel{ID: "C1", Name: "incident-x"}}
		if err := d.Save(ctx, th); err != nil {
			return nil, err
		}
		return th, errors.New("the chat service went away after the channel was created")
	}
	cp := *th
	ic := *th.Incident
	cp.Channel, cp.RootID, cp.Incident = "team", "root-1", &ic
	ic.ArchiveAt = nil
	if d.Report.Event == triaged.EventResolved {
		at := time.Now().Add(c.after)
		ic.ArchiveAt = &at
	}
	return &cp, nil
}

func (c *channelChat) ArchiveAfter() time.Duration { return c.after }

func (c *channelChat) Archive(_ context.Context, incident string, th *notify.Thread) (*notify.Thread, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.archived = append(c.archived, incident)
	cp := *th
	ic := *th.Incident
	ic.Archived, ic.ArchiveAt = true, nil
	cp.Incident = &ic
	return &cp, nil
}

// TestIncidentChannelSavedAndArchived: a channel a sink saves before failing is handed back to
// the retry (never created twice); the resolution's archive falls due and is done once although
// two replicas look for it.
func TestIncidentChannelSavedAndArchived(t *testing.T) {
	e := newEnv(t, broker.TopologyOptions{})
	sink := &channelChat{after: 50 * time.Millisecond}
	// A short Timeout: the resolution, at the other replica, waits for the opening's retry
	// no longer than its attempt's deadline.
	o := outbox.Options{ArchiveEvery: 10 * time.Millisecond, Timeout: 500 * time.Millisecond}
	e.start(sink, o)
	e.start(sink, o)
	e.publish(report("inc-1", 1, triaged.EventOpened), report("inc-1", 2, triaged.EventResolved))
	testkit.Eventually(t, 5*time.Second, "the channel archived", func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.archived) > 0
	})
	kv, err := e.js.KeyValue(context.Background(), e.names.DeliveriesBucket())
	if err != nil {
		t.Fatal(err)
	}
	// Once the mark is gone, nothing can archive the channel again.
	testkit.Eventually(t, 5*time.Second, "the archive mark removed", func() bool {
		_, err := kv.Get(context.Background(), "_archive.chat.inc-1")
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
	rec, err := kv.Get(context.Background(), "chat.inc-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rec.Value()), `"archived":true`) {
		t.Errorf("the delivery record %s does not say the channel is archived", rec.Value())
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.created != 1 {
		t.Errorf("the channel was created %d times, want once", sink.created)
	}
	if len(sink.seen) < 2 || sink.seen[1] == nil || sink.seen[1].Incident == nil || sink.seen[1].Incident.ID != "C1" {
		t.Errorf("the retry was handed %+v, want the channel saved by the failed attempt", sink.seen)
	}
	if len(sink.archived) != 1 {
		t.Errorf("archived %d times, want once", len(sink.archived))
	}
}

// failingArchive is channelChat whose archiving always fails as a chat service that is down.
type failingArchive struct {
	channelChat
	tries atomic.Int32
}

func (c *failingArchive) Archive(context.Context, string, *notify.Thread) (*notify.Thread, error) {
	c.tries.Add(1)
	return nil, errors.New("503 Service Unavailable")
}

// TestArchiveGivenUpAfterADay: a channel whose archiving fails for a reason that may pass is
// tried again, but not for ever: a day after it fell due, the mark is dropped.
func TestArchiveGivenUpAfterADay(t *testing.T) {
	e := newEnv(t, broker.TopologyOptions{})
	sink := &failingArchive{channelChat: channelChat{after: -25 * time.Hour}} // due a day ago
	e.start(sink, outbox.Options{ArchiveEvery: 10 * time.Millisecond, Timeout: 500 * time.Millisecond})
	e.publish(report("inc-1", 1, triaged.EventOpened), report("inc-1", 2, triaged.EventResolved))
	kv, err := e.js.KeyValue(context.Background(), e.names.DeliveriesBucket())
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the archive tried and its mark dropped", func() bool {
		_, err := kv.Get(context.Background(), "_archive.chat.inc-1")
		return sink.tries.Load() > 0 && errors.Is(err, jetstream.ErrKeyNotFound)
	})
	if n := sink.tries.Load(); n != 1 {
		t.Errorf("archive tried %d times, want once", n)
	}
}
