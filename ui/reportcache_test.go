package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/api"
)

// countingStream is the real reports stream, counting the reads.
type countingStream struct {
	api.ReportStream
	reads atomic.Int64
}

func (c *countingStream) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	c.reads.Add(1)
	return c.ReportStream.GetMsg(ctx, seq, opts...)
}

// Every refresh of an open incident page (one per change, for each person watching) read every
// report of the incident again: now a report is read once, and only a missing one again.
func TestIncidentPageReadsEachReportOnce(t *testing.T) {
	js, names, topo := topology(t)
	id := "20261126-diskfull-0a0b0c"
	inc := triaged.Incident{ID: id, State: triaged.IncidentOpen, Severity: triaged.P3, OpenedAt: t0, UpdatedAt: t0, Seq: 3,
		Reports: []triaged.ReportRef{
			publish(t, js, names, report(id, 1, triaged.EventOpened, triaged.P3, "P3 MEDIUM · DiskFull")),
			publish(t, js, names, report(id, 2, triaged.EventUpdated, triaged.P3, "P3 MEDIUM · DiskFull · 2 alerts firing")),
			{ID: id + ".3.updated", Event: triaged.EventUpdated, Severity: triaged.P3, At: t0, Seq: 999}, // expired
		}}
	data, _ := json.Marshal(inc)
	if _, err := topo.Incidents.Put(context.Background(), "g.disk", data); err != nil {
		t.Fatal(err)
	}
	if _, err := topo.Incidents.Put(context.Background(), triaged.IncidentIndexKey(id), []byte("g.disk")); err != nil {
		t.Fatal(err)
	}
	reports := &countingStream{ReportStream: topo.Reports}
	u, err := New(Options{Incidents: topo.Incidents, Reports: reports})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{3, 1, 1} {
		before := reports.reads.Load()
		code, body := get(t, u, "/incidents/"+id)
		if code != 200 || !strings.Contains(body, "2 alerts firing") || !strings.Contains(body, "has expired from the reports stream") {
			t.Fatalf("view %d: %d, the page lacks its reports", i+1, code)
		}
		if got := reports.reads.Load() - before; got != want {
			t.Errorf("view %d read %d reports, want %d", i+1, got, want)
		}
	}
}

// The cache keeps to its byte bound, dropping the oldest first.
func TestReportCacheBound(t *testing.T) {
	c := newReportCache(100)
	for i := range 5 {
		c.put(cacheKey{uint64(i), fmt.Sprint(i)}, cachedReport{rep: &triaged.Report{}, size: 30})
	}
	c.put(cacheKey{9, "too big"}, cachedReport{rep: &triaged.Report{}, size: 101})
	if c.size != 90 || len(c.byKey) != 3 || len(c.order) != 3 {
		t.Fatalf("size %d, %d kept (%d in order), want 90 in 3", c.size, len(c.byKey), len(c.order))
	}
	for i := range 5 {
		_, kept := c.byKey[cacheKey{uint64(i), fmt.Sprint(i)}]
		if kept != (i >= 2) {
			t.Errorf("report %d kept: %v, want the newest three", i, kept)
		}
	}
}
