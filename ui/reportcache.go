package ui

import (
	"context"
	"sync"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/api"
)

// ReportCacheBytes bounds the reports the incident page keeps decoded, by their encoded size. A
// report never changes under its stream sequence, and every refresh of an open incident page
// (one per change, for each person watching) would otherwise read and decode every report of
// the incident again, up to triaged.MaxReports of them.
const ReportCacheBytes = 16 << 20

type cacheKey struct {
	seq uint64
	id  string
}

// reportCache keeps decoded reports, the oldest stored dropped first past its byte bound.
type reportCache struct {
	mu    sync.Mutex
	limit int
	size  int
	byKey map[cacheKey]cachedReport
	order []cacheKey // oldest first
}

type cachedReport struct {
	rep  *triaged.Report
	size int
}

func newReportCache(limit int) *reportCache {
	return &reportCache{limit: limit, byKey: map[cacheKey]cachedReport{}}
}

// fetch is api.FetchReport through the cache. The report it returns is shared: read it only.
func (c *reportCache) fetch(ctx context.Context, reports api.ReportStream, ref triaged.ReportRef) (*triaged.Report, error) {
	key := cacheKey{ref.Seq, ref.ID}
	c.mu.Lock()
	hit, ok := c.byKey[key]
	c.mu.Unlock()
	if ok {
		return hit.rep, nil
	}
	data, rep, err := api.FetchReport(ctx, reports, ref)
	if err != nil || rep == nil {
		return rep, err // an expired report may come back under no sequence: nothing to keep
	}
	c.put(key, cachedReport{rep: rep, size: len(data)})
	return rep, nil
}

func (c *reportCache) put(key cacheKey, r cachedReport) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; ok || r.size > c.limit {
		return
	}
	c.byKey[key] = r
	c.order = append(c.order, key)
	c.size += r.size
	for c.size > c.limit {
		old := c.order[0]
		c.order = c.order[1:]
		c.size -= c.byKey[old].size
		delete(c.byKey, old)
	}
}
