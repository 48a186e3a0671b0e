package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/notify"
)

// An incident channel due for archiving is marked in the deliveries bucket under
// "_archive.<record key>", beside its record, which stays the one truth: the mark only says
// where to look, so that finding the channels due reads a few keys, not every record. A sink
// name cannot start with '_', so the marks never mix with the records of a sink.
const archivePrefix = "_archive."

// archiveMark is the value of a mark.
type archiveMark struct {
	Incident string    `json:"incident"`
	Due      time.Time `json:"due"`
	// Claimed is when the replica archiving it gives up, should it die: until then the
	// others leave it alone.
	Claimed *time.Time `json:"claimed,omitempty"`
}

// archiveClaim bounds one replica's attempt at archiving a channel; a temporary failure is
// tried again when it ends.
const archiveClaim = 2 * time.Minute

// archiveGiveUp bounds those tries: a channel not archived this long after it fell due is left
// to a person, with an error in the log, rather than tried every archiveClaim for ever.
const archiveGiveUp = 24 * time.Hour

func (d *Deliverer) archiveKey(incident string) string {
	return archivePrefix + d.records.key(incident)
}

// scheduleArchive marks the incident's channel for archiving when the thread just recorded
// says it is due; a failure is logged, the channel then stays open (a person archives it).
func (d *Deliverer) scheduleArchive(ctx context.Context, incident string, th *notify.Thread) {
	if th == nil || th.Incident == nil || th.Incident.ArchiveAt == nil || th.Incident.Archived {
		return
	}
	data, _ := json.Marshal(archiveMark{Incident: incident, Due: *th.Incident.ArchiveAt})
	kctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	if _, err := d.o.Deliveries.Put(kctx, d.archiveKey(incident), data); err != nil {
		d.log.Warn("incident channel not scheduled for archiving; archive it by hand", "incident", incident, "channel", th.Incident.Name, "err", err)
	}
}

// runArchiver archives the incident channels that fall due, until ctx is done.
func (d *Deliverer) runArchiver(ctx context.Context, a notify.Archiver) {
	every := d.o.ArchiveEvery
	if every <= 0 {
		// A quarter of the delay: a channel is archived at most that much late.
		every = min(max(a.ArchiveAfter()/4, 100*time.Millisecond), 30*time.Second)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.archiveDue(ctx, a)
	}
}

func (d *Deliverer) archiveDue(ctx context.Context, a notify.Archiver) {
	lctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	keys, err := d.o.Deliveries.ListKeysFiltered(lctx, archivePrefix+d.sink.Name()+".>")
	if err != nil {
		if !errors.Is(err, jetstream.ErrNoKeysFound) {
			d.log.Warn("incident channels due for archiving not listed", "err", err)
		}
		return
	}
	var due []string
	for k := range keys.Keys() {
		due = append(due, k)
	}
	for _, k := range due {
		if ctx.Err() != nil {
			return
		}
		d.archiveOne(ctx, a, k)
	}
}

// archiveOne archives the channel of one mark if it is due, its record agrees, and no other
// replica has claimed it.
func (d *Deliverer) archiveOne(ctx context.Context, a notify.Archiver, key string) {
	kctx, cancel := context.WithTimeout(ctx, kvTimeout)
	defer cancel()
	e, err := d.o.Deliveries.Get(kctx, key)
	if err != nil {
		return // gone: archived or cancelled meanwhile
	}
	var m archiveMark
	if json.Unmarshal(e.Value(), &m) != nil || m.Incident == "" {
		_ = d.o.Deliveries.Delete(kctx, key)
		return
	}
	now := time.Now()
	if m.Due.After(now) || m.Claimed != nil && m.Claimed.After(now) {
		return
	}
	claimed := now.Add(archiveClaim)
	m.Claimed = &claimed
	data, _ := json.Marshal(m)
	rev, err := d.o.Deliveries.Update(kctx, key, data, e.Revision())
	if err != nil {
		return // another replica claimed it first
	}
	rec, recRev, err := d.records.get(kctx, m.Incident)
	if err != nil {
		return // the claim expires; tried again then
	}
	ic := (*notify.IncidentChannel)(nil)
	if rec.Thread != nil {
		ic = rec.Thread.Incident
	}
	if ic == nil || ic.Archived || ic.ArchiveAt == nil {
		_ = d.o.Deliveries.Delete(kctx, key, jetstream.LastRevision(rev)) // reopened, or archived already
		return
	}
	if ic.ArchiveAt.After(now) {
		m.Due, m.Claimed = *ic.ArchiveAt, nil
		data, _ := json.Marshal(m)
		_, _ = d.o.Deliveries.Update(kctx, key, data, rev)
		return
	}
	actx, acancel := context.WithTimeout(ctx, d.o.Timeout)
	th, err := a.Archive(actx, m.Incident, rec.Thread)
	acancel()
	if err != nil {
		if notify.IsPermanent(err) {
			d.log.Error("incident channel not archived; archive it by hand", "incident", m.Incident, "channel", ic.Name, "err", err)
			_ = d.o.Deliveries.Delete(kctx, key, jetstream.LastRevision(rev))
			return
		}
		if now.After(m.Due.Add(archiveGiveUp)) {
			d.log.Error("incident channel not archived, and no longer tried; archive it by hand", "incident", m.Incident, "channel", ic.Name, "due", m.Due, "tried_for", archiveGiveUp, "err", err)
			_ = d.o.Deliveries.Delete(kctx, key, jetstream.LastRevision(rev))
			return
		}
		d.log.Warn("incident channel not archived; will retry", "incident", m.Incident, "channel", ic.Name, "retry_in", archiveClaim, "err", err)
		return
	}
	// The archived flag is written only over the record the archiving was decided on: a report
	// delivered meanwhile (the incident reopened) cleared ArchiveAt, and wins. A conflicting
	// write makes records.update read the record again and ask anew.
	reopened := false
	_, _, err = d.records.update(kctx, m.Incident, rec, recRev, func(r *record) error {
		if r.Thread == nil || th == nil || th.Incident == nil {
			return errUnchanged
		}
		if cur := r.Thread.Incident; cur == nil || cur.ID != ic.ID || cur.ArchiveAt == nil || !cur.ArchiveAt.Equal(*ic.ArchiveAt) {
			reopened = true
			return errUnchanged
		}
		nt := *r.Thread
		nic := *th.Incident
		nt.Incident = &nic
		r.Thread = &nt
		return nil
	})
	if err != nil {
		d.log.Warn("archived incident channel not recorded", "incident", m.Incident, "err", err)
	}
	if reopened {
		d.unarchive(ctx, a, m.Incident, rec.Thread)
	}
	_ = d.o.Deliveries.Delete(kctx, key, jetstream.LastRevision(rev))
}

// unarchive takes back the archiving of a channel whose incident reopened while it was being
// archived, where the service lets the bot (Mattermost); elsewhere the channel stays archived
// and the record open, and the sink finds it archived when it next posts there.
func (d *Deliverer) unarchive(ctx context.Context, a notify.Archiver, incident string, th *notify.Thread) {
	u, ok := a.(notify.Unarchiver)
	if !ok {
		d.log.Warn("the incident reopened while its channel was archived; the channel stays archived", "incident", incident, "channel", th.Incident.Name)
		return
	}
	uctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	if err := u.Unarchive(uctx, th); err != nil {
		d.log.Warn("the incident reopened while its channel was archived, and it could not be unarchived; unarchive it by hand", "incident", incident, "channel", th.Incident.Name, "err", err)
		return
	}
	d.log.Info("the incident reopened while its channel was archived; unarchived it", "incident", incident, "channel", th.Incident.Name)
}
