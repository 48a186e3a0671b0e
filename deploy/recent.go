package deploy

import (
	"cmp"
	"slices"
)

// Series is the deploys of one service and environment the index holds, newest first.
type Series struct {
	Service     string
	Environment string
	Events      []Event
	// Held is how many events the index holds of the pair (Events has at most the limit asked
	// for); Dropped how many of its events within the max age the bounds dropped.
	Held, Dropped int
}

// Recent lists the service and environment pairs with their latest deploys first, at most
// maxSeries pairs of at most perSeries events each, newest first: the deploys page. It copies
// what it returns under the read lock, so it costs one pass over the pairs, not over the events.
func (ix *Index) Recent(maxSeries, perSeries int) []Series {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	type latest struct {
		service, env string
		sr           *series
	}
	all := make([]latest, 0, ix.store.nseries)
	for svc, envs := range ix.store.services {
		for env, sr := range envs {
			if len(sr.events) > 0 {
				all = append(all, latest{svc, env, sr})
			}
		}
	}
	slices.SortFunc(all, func(a, b latest) int {
		if c := b.sr.events[len(b.sr.events)-1].Time.Compare(a.sr.events[len(a.sr.events)-1].Time); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.env, b.env))
	})
	out := make([]Series, 0, min(len(all), max(maxSeries, 0)))
	for _, l := range all[:min(len(all), max(maxSeries, 0))] {
		s := Series{Service: l.service, Environment: l.env, Held: len(l.sr.events), Dropped: l.sr.dropped}
		for i := len(l.sr.events) - 1; i >= 0 && len(s.Events) < perSeries; i-- {
			s.Events = append(s.Events, *l.sr.events[i])
		}
		out = append(out, s)
	}
	return out
}
