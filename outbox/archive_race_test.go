package outbox_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
)

// slowArchive: Archive takes a while (closing message, conversations.archive); a reopening is
// delivered meanwhile.
type slowArchive struct {
	mu        sync.Mutex
	delivered []string
	inArchive chan struct{}
	release   chan struct{}
	archived  int
}

func (c *slowArchive) Name() string { return "chat" }

func (c *slowArchive) Deliver(ctx context.Context, d notify.Delivery) (*notify.Thread, error) {
	c.mu.Lock()
	c.delivered = append(c.delivered, d.Report.ID)
	c.mu.Unlock()
	th := d.Thread
	if th == nil || th.Incident == nil {
		th = &notify.Thread{Channel: "team", RootID: "root-1", Incident: &notify.IncidentChannel{ID: "C1", Name: "incident-x"}}
	}
	cp := *th
	ic := *th.Incident
	cp.Incident = &ic
	ic.ArchiveAt = nil // as channelKeeper.incident: a later report cancels the archive
	if d.Report.Event == triaged.EventResolved {
		at := time.Now().Add(50 * time.Millisecond)
		ic.ArchiveAt = &at
	}
	return &cp, nil
}

func (c *slowArchive) ArchiveAfter() time.Duration { return 50 * time.Millisecond }

func (c *slowArchive) Archive(_ context.Context, incident string, th *notify.Thread) (*notify.Thread, error) {
	close(c.inArchive)
	<-c.release
	c.mu.Lock()
	c.archived++
	c.mu.Unlock()
	cp := *th
	ic := *th.Incident
	ic.Archived, ic.ArchiveAt = true, nil
	cp.Incident = &ic
	return &cp, nil
}

// slowUnarchive can take an archiving back, as Mattermost can.
type slowUnarchive struct {
	*slowArchive
	unarchived int
}

func (c *slowUnarchive) Unarchive(context.Context, *notify.Thread) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unarchived++
	return nil
}

// A reopening delivered while the channel is being archived wins: the record keeps the
// reopening's state, not "archived", and a sink that can unarchive is asked to.
func TestArchiveRacingReopeningLeavesRecordOpen(t *testing.T) {
	for _, unarchives := range []bool{false, true} {
		t.Run(map[bool]string{false: "slack", true: "mattermost"}[unarchives], func(t *testing.T) {
			e := newEnv(t, broker.TopologyOptions{})
			slow := &slowArchive{inArchive: make(chan struct{}), release: make(chan struct{})}
			var sink notify.Sink = slow
			un := &slowUnarchive{slowArchive: slow}
			if unarchives {
				sink = un
			}
			e.start(sink, outbox.Options{ArchiveEvery: 10 * time.Millisecond, Timeout: 5 * time.Second})
			e.publish(report("inc-1", 1, triaged.EventOpened), report("inc-1", 2, triaged.EventResolved))
			<-slow.inArchive // the archive is under way
			e.publish(report("inc-1", 3, triaged.EventReopened))
			kv, err := e.js.KeyValue(context.Background(), e.names.DeliveriesBucket())
			if err != nil {
				t.Fatal(err)
			}
			record := func() string {
				rec, err := kv.Get(context.Background(), "chat.inc-1")
				if err != nil {
					return ""
				}
				return string(rec.Value())
			}
			testkit.Eventually(t, 5*time.Second, "the reopening delivered and recorded", func() bool {
				return strings.Contains(record(), `{"id":"inc-1.3.reopened"}`)
			})
			close(slow.release)
			testkit.Eventually(t, 5*time.Second, "the archiving over", func() bool {
				_, err := kv.Get(context.Background(), "_archive.chat.inc-1")
				return err != nil
			})
			if rec := record(); strings.Contains(rec, `"archived":true`) {
				t.Errorf("the incident reopened, yet the record says its channel is archived: %s", rec)
			}
			un.mu.Lock()
			defer un.mu.Unlock()
			if want := map[bool]int{true: 1}[unarchives]; un.unarchived != want {
				t.Errorf("unarchived %d times, want %d", un.unarchived, want)
			}
		})
	}
}

// heldReopen delivers a reopening only once released, and archives at once.
type heldReopen struct {
	slowArchive
	inReopen chan struct{}
	hold     chan struct{}
}

func (c *heldReopen) Deliver(ctx context.Context, d notify.Delivery) (*notify.Thread, error) {
	if d.Report.Event == triaged.EventReopened {
		close(c.inReopen)
		<-c.hold
	}
	return c.slowArchive.Deliver(ctx, d)
}

func (c *heldReopen) Archive(_ context.Context, _ string, th *notify.Thread) (*notify.Thread, error) {
	c.mu.Lock()
	c.archived++
	c.mu.Unlock()
	cp := *th
	ic := *th.Incident
	ic.Archived, ic.ArchiveAt = true, nil
	cp.Incident = &ic
	return &cp, nil
}

// The other way round: the channel is archived, and recorded so, while a reopening is being
// delivered from the record before. The reopening's outcome must not record the channel open:
// it stays archived in the record, so the next report unarchives it (or says it is archived).
func TestArchiveDuringReopeningDeliveryStaysRecorded(t *testing.T) {
	e := newEnv(t, broker.TopologyOptions{})
	sink := &heldReopen{inReopen: make(chan struct{}), hold: make(chan struct{})}
	e.start(sink, outbox.Options{ArchiveEvery: 10 * time.Millisecond, Timeout: 5 * time.Second})
	e.publish(report("inc-1", 1, triaged.EventOpened), report("inc-1", 2, triaged.EventResolved), report("inc-1", 3, triaged.EventReopened))
	<-sink.inReopen
	kv, err := e.js.KeyValue(context.Background(), e.names.DeliveriesBucket())
	if err != nil {
		t.Fatal(err)
	}
	record := func() string {
		rec, err := kv.Get(context.Background(), "chat.inc-1")
		if err != nil {
			return ""
		}
		return string(rec.Value())
	}
	testkit.Eventually(t, 5*time.Second, "the channel archived and recorded", func() bool {
		return strings.Contains(record(), `"archived":true`)
	})
	close(sink.hold)
	testkit.Eventually(t, 5*time.Second, "the reopening recorded", func() bool {
		return strings.Contains(record(), `{"id":"inc-1.3.reopened"}`)
	})
	if rec := record(); !strings.Contains(rec, `"archived":true`) {
		t.Errorf("the reopening's outcome recorded the archived channel as open: %s", rec)
	}
}
