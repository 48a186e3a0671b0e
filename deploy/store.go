package deploy

import (
	"cmp"
	"slices"
	"time"
)

// Bounds of the index, the defaults of IndexOptions. A service deploying to one environment a
// hundred times a day stays well within DefaultMaxPerService over the default max age of a
// week; the defaults hold DefaultMaxEvents events (tens of megabytes), and a pair holding at
// most 19 events (99% of DefaultMaxEvents/DefaultMaxServices, less one) is never trimmed by the
// others.
const (
	DefaultMaxPerService = 1000
	DefaultMaxServices   = 5000
	DefaultMaxEvents     = 100_000
)

// Reasons an index dropped or refused a valid event, the reason label of
// triaged_deploy_index_dropped_total.
const (
	DroppedPerService = "per_service" // the oldest of a service and environment over MaxPerService
	DroppedServices   = "services"    // a pair not tracked, while MaxServices pairs are
	DroppedEvents     = "events"      // the oldest of the largest pairs, over MaxEvents
)

// series is the events of one service and environment, oldest first, and what the bounds
// dropped of it.
type series struct {
	events []*Event
	// dropped counts the events the bounds dropped whose time is still within the max age;
	// droppedThrough is the newest of them. Bounds drop a series' oldest first, so the events
	// held are the newer ones, and a window that ends before droppedThrough may lack some.
	dropped        int
	droppedThrough time.Time
}

// store holds the events of the index, under its bounds. It is not safe for concurrent use:
// the Index guards it.
type store struct {
	services map[string]map[string]*series // service → environment → series
	byKey    map[string]*Event
	nseries  int
	total    int
	// saturated counts the series with dropped > 0.
	saturated int
	// refused counts the events of pairs not tracked that were refused while MaxServices pairs
	// were, and whose time is still within the max age; refusedThrough is the newest of them.
	// Which services they were of is not kept, or a flood of made-up names would fill that too.
	refused        int
	refusedThrough time.Time
}

type limits struct{ perService, services, events int }

// drops is what one add dropped or refused, per bound.
type drops struct{ perService, services, events int }

func newStore() store {
	return store{services: map[string]map[string]*series{}, byKey: map[string]*Event{}}
}

// add puts e in the store. A later event of the same deploy (same service, environment,
// version and time) replaces the earlier one in place: "succeeded" after "started".
func (s *store) add(e Event, l limits) drops {
	var d drops
	k := e.key()
	if old, ok := s.byKey[k]; ok {
		*old = e
		return d
	}
	envs := s.services[e.Service]
	sr := envs[e.Environment]
	if sr == nil {
		if s.nseries >= l.services {
			// Refuse the newcomer rather than evict a pair that is tracked: a flood of made-up
			// services then costs only the services that deploy for the first time while it
			// lasts, and every report says the index was full.
			s.refused++
			s.refusedThrough = later(s.refusedThrough, e.Time)
			d.services = 1
			return d
		}
		if envs == nil {
			envs = map[string]*series{}
			s.services[e.Service] = envs
		}
		sr = &series{}
		envs[e.Environment] = sr
		s.nseries++
	}
	p := &e
	i, _ := slices.BinarySearchFunc(sr.events, e.Time, func(x *Event, t time.Time) int { return x.Time.Compare(t) })
	// Among equal times, keep arrival order: insert after them.
	for i < len(sr.events) && sr.events[i].Time.Equal(e.Time) {
		i++
	}
	sr.events = slices.Insert(sr.events, i, p)
	s.byKey[k] = p
	s.total++
	if over := len(sr.events) - l.perService; over > 0 {
		s.trim(sr, over)
		d.perService = over
	}
	if s.total > l.events {
		d.events = s.capTotal(l)
	}
	return d
}

// capTotal trims the largest series until the store holds 1% less than the bound, and returns
// how many events it dropped. It cuts every series above one level down to it, the level as
// high as will do: a flood fills its own series, so it pays for itself first. The slack keeps a
// flood from costing a pass over every series per insert.
func (s *store) capTotal(l limits) int {
	excess := s.total - (l.events - l.events/100)
	all := make([]*series, 0, s.nseries)
	for _, envs := range s.services {
		for _, sr := range envs {
			all = append(all, sr)
		}
	}
	slices.SortFunc(all, func(a, b *series) int { return cmp.Compare(len(b.events), len(a.events)) })
	// Find the fewest largest series, k, whose trimming to the next one's length frees enough,
	// then the highest level for those k that does.
	level, sum := 0, 0
	for k := 1; k <= len(all); k++ {
		sum += len(all[k-1].events)
		next := 0
		if k < len(all) {
			next = len(all[k].events)
		}
		if sum-k*next >= excess {
			level = max((sum-excess)/k, next, 1)
			break
		}
	}
	dropped := 0
	for _, sr := range all {
		n := len(sr.events) - level
		if n <= 0 {
			break
		}
		s.trim(sr, n)
		dropped += n
	}
	return dropped
}

// trim drops the n oldest events of sr and remembers that it did.
func (s *store) trim(sr *series, n int) {
	if sr.dropped == 0 {
		s.saturated++
	}
	sr.dropped += n
	sr.droppedThrough = later(sr.droppedThrough, sr.events[n-1].Time)
	s.dropOldest(sr, n)
}

// prune drops the events older than cutoff, and forgets what was dropped or refused before it:
// such events would have expired by now anyway. It runs on a timer rather than on every insert,
// because it visits every series.
func (s *store) prune(cutoff time.Time) {
	for svc, envs := range s.services {
		for env, sr := range envs {
			n := 0
			for n < len(sr.events) && sr.events[n].Time.Before(cutoff) {
				n++
			}
			s.dropOldest(sr, n)
			if sr.dropped > 0 && sr.droppedThrough.Before(cutoff) {
				sr.dropped, sr.droppedThrough = 0, time.Time{}
				s.saturated--
			}
			if len(sr.events) == 0 && sr.dropped == 0 {
				delete(envs, env)
				s.nseries--
			}
		}
		if len(envs) == 0 {
			delete(s.services, svc)
		}
	}
	if s.refused > 0 && s.refusedThrough.Before(cutoff) {
		s.refused, s.refusedThrough = 0, time.Time{}
	}
}

// dropOldest removes the n oldest events of sr.
func (s *store) dropOldest(sr *series, n int) {
	if n == 0 {
		return
	}
	for _, e := range sr.events[:n] {
		delete(s.byKey, e.key())
	}
	s.total -= n
	// Reslicing keeps a flood at one copy per insert (the insert's own) rather than two; the
	// cleared slots release the dropped events, and the array is copied once it is mostly
	// slack.
	clear(sr.events[:n])
	sr.events = sr.events[n:]
	if cap(sr.events) > 2*len(sr.events)+64 {
		sr.events = slices.Clone(sr.events)
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
