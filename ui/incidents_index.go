package ui

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/outbox"
)

// DefaultMaxIndexed is how many incidents the incidents page keeps in memory by default.
const DefaultMaxIndexed = 20000

// Summary is one incident as the incidents page lists it.
type Summary struct {
	ID          string
	State       string // triaged.IncidentOpen or IncidentResolved
	Severity    string // "P1".."P4"
	Service     string
	Environment string
	Team        string
	AlertName   string
	// Headline is the last report's, or, for an incident indexed from the bucket before a report
	// came in, the headline triaged.Headline makes of its state.
	Headline   string
	OpenedAt   time.Time
	UpdatedAt  time.Time
	ResolvedAt *time.Time
	Firing     int
	Resolved   int
	// Dropped counts the members the incident record did not keep (triaged bounds it), whose
	// status is not known: the bucket says it; a report, counting only kept members, does not.
	Dropped  int
	Flapping bool
	// Seq counts the incident's reports: what the bucket and the reports stream say of it is
	// taken in this order, whichever of the two arrives first.
	Seq int

	keys    uint8 // which bucket keys hold the incident: keyGroup, keyArchived
	withRep bool  // Headline and Team are a report's, of report Seq
}

const (
	keyGroup uint8 = 1 << iota
	keyArchived
)

// Members is the number of member alerts.
func (s *Summary) Members() int { return s.Firing + s.Resolved }

// Open reports whether the incident is open.
func (s *Summary) Open() bool { return s.State == triaged.IncidentOpen }

// ChatLink is a message a chat sink posted for an incident.
type ChatLink struct{ Sink, URL string }

// Index is the incidents page's bounded memory of incident summaries: fed by a watch of the
// incidents bucket (Watch) and by every report (Report), so that listing 10,000 incidents reads
// no bucket at all. It keeps at most max incidents: past that, the resolved ones updated
// longest ago go first, then the open ones opened longest ago; and none whose state the bucket
// has expired (older than maxAge).
type Index struct {
	max    int
	maxAge time.Duration
	now    func() time.Time

	mu      sync.RWMutex
	byID    map[string]*Summary
	open    map[string]int               // open incidents of byID per severity, kept as byID changes
	byKey   map[string]string            // bucket key → incident id
	threads map[string]map[string]string // delivery record key part → sink → message URL
	sorted  []*Summary                   // newest first; nil: to be made again
	evicted int                          // incidents dropped to stay within max
	loaded  bool                         // the watch has delivered the bucket's contents
	// linked is told the delivery record key part of an incident whose chat link is new or
	// changed (the live updates send it on); nil: nobody is.
	linked func(part string)
}

// NewIndex returns an empty index of at most max incidents (DefaultMaxIndexed when max <= 0),
// none older than maxAge (no limit when 0).
func NewIndex(max int, maxAge time.Duration, now func() time.Time) *Index {
	if max <= 0 {
		max = DefaultMaxIndexed
	}
	if now == nil {
		now = time.Now
	}
	return &Index{max: max, maxAge: maxAge, now: now,
		byID: map[string]*Summary{}, open: map[string]int{}, byKey: map[string]string{}, threads: map[string]map[string]string{}}
}

// stored is the part of an incident's JSON a summary needs: decoding only that keeps indexing
// thousands of incidents with hundreds of members each cheap.
type stored struct {
	ID       string           `json:"id"`
	State    string           `json:"state"`
	Severity triaged.Severity `json:"severity"`
	Service  struct {
		Name               string `json:"name"`
		Environment        string `json:"environment"`
		EnvironmentAssumed bool   `json:"environment_assumed"`
		Team               string `json:"team"`
	} `json:"service"`
	GroupLabels map[string]string `json:"group_labels"`
	OpenedAt    time.Time         `json:"opened_at"`
	ResolvedAt  *time.Time        `json:"resolved_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Members     []struct {
		Status string `json:"status"`
		Labels struct {
			AlertName string `json:"alertname"`
			Team      string `json:"team"`
		} `json:"labels"`
	} `json:"members"`
	MembersDropped int  `json:"members_dropped"`
	Flapping       bool `json:"flapping"`
	Seq            int  `json:"seq"`
	Reports        []struct {
		Event triaged.Event `json:"event"`
	} `json:"reports"`
	Evidence *struct {
		Changes           []triaged.Change
		ChangesSummary    string
		ChangesWindow     time.Duration
		ChangesIncomplete string
		Pending           []string
	} `json:"evidence"`
}

// summarize makes the summary of a stored incident, its headline as triaged.Headline makes it
// of what the incident's last report would have said.
func summarize(data []byte) (*Summary, error) {
	var st stored
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	s := &Summary{ID: st.ID, State: st.State, Severity: st.Severity.String(), Service: st.Service.Name,
		Environment: st.Service.Environment, Team: st.Service.Team, AlertName: st.GroupLabels["alertname"],
		OpenedAt: st.OpenedAt, UpdatedAt: st.UpdatedAt, ResolvedAt: st.ResolvedAt, Flapping: st.Flapping, Seq: st.Seq, Dropped: st.MembersDropped}
	common := true // the members' alertname, when the group labels do not name one
	for i, m := range st.Members {
		if m.Status == triaged.StatusFiring {
			s.Firing++
		} else {
			s.Resolved++
		}
		common = common && m.Labels.AlertName == st.Members[0].Labels.AlertName
		if i == 0 && s.Team == "" {
			s.Team = m.Labels.Team
		}
	}
	if s.AlertName == "" && common && len(st.Members) > 0 {
		s.AlertName = st.Members[0].Labels.AlertName
	}
	rep := triaged.Report{Severity: st.Severity, AlertName: s.AlertName, Service: s.Service, Environment: s.Environment,
		EnvironmentAssumed: st.Service.EnvironmentAssumed, AlertsFiring: s.Firing, AlertsResolved: s.Resolved,
		Flapping: s.Flapping, StartedAt: s.OpenedAt, EndedAt: s.ResolvedAt, Event: triaged.EventUpdated}
	if n := len(st.Reports); n > 0 {
		rep.Event = st.Reports[n-1].Event
	}
	if e := st.Evidence; e != nil {
		rep.RecentChanges, rep.RecentChangesSummary, rep.RecentChangesIncomplete = e.Changes, e.ChangesSummary, e.ChangesIncomplete
		rep.RecentChangesWindowMinutes, rep.Pending = int(e.ChangesWindow/time.Minute), e.Pending
	} else {
		rep.Pending = []string{triaged.SectionRecentChanges}
	}
	s.Headline = triaged.Headline(&rep)
	return s, nil
}

// Put indexes the incident the bucket holds under key; a value that is not an incident's state
// is left out. Deleted says the key was deleted or purged.
func (x *Index) Put(key string, value []byte, deleted bool) {
	var kind uint8
	switch {
	case strings.HasPrefix(key, triaged.IncidentStatePrefix):
		kind = keyGroup
	case strings.HasPrefix(key, triaged.ArchivedIncidentKey("")):
		kind = keyArchived
	default:
		return
	}
	var s *Summary
	if !deleted {
		var err error
		if s, err = summarize(value); err != nil || s.ID == "" {
			return
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.byKey[key]; ok && (s == nil || old != s.ID) {
		x.unref(old, kind) // the group's state now belongs to a later incident, or is gone
		delete(x.byKey, key)
		x.changedLocked()
	}
	if s == nil {
		return
	}
	x.byKey[key] = s.ID
	cur := x.byID[s.ID]
	switch {
	case cur == nil:
	case cur.Seq > s.Seq:
		cur.keys |= kind // the reports stream told us more already
		return
	case cur.withRep && cur.Seq == s.Seq:
		s.Headline, s.Team, s.withRep = cur.Headline, cmp.Or(cur.Team, s.Team), true
	}
	if cur != nil {
		s.keys = cur.keys
	}
	s.keys |= kind
	x.setLocked(s)
	x.changedLocked()
}

func (x *Index) unref(id string, kind uint8) {
	if s := x.byID[id]; s != nil {
		if s.keys &^= kind; s.keys == 0 {
			x.deleteLocked(id)
		}
	}
}

// Report indexes what a report says of its incident, unless the bucket said more already.
func (x *Index) Report(rep *triaged.Report) {
	n := reportNumber(rep)
	x.mu.Lock()
	defer x.mu.Unlock()
	cur := x.byID[rep.IncidentID]
	if cur != nil && cur.Seq > n {
		return
	}
	s := &Summary{ID: rep.IncidentID, State: triaged.IncidentOpen, Severity: rep.Severity.String(), Service: rep.Service,
		Environment: rep.Environment, Team: rep.Team, AlertName: rep.AlertName, Headline: rep.Headline,
		OpenedAt: rep.StartedAt, UpdatedAt: rep.TriagedAt, Firing: rep.Counts().Firing, Resolved: rep.Counts().Resolved,
		Flapping: rep.Flapping, Seq: n, withRep: true}
	if rep.Event == triaged.EventResolved {
		s.State, s.ResolvedAt = triaged.IncidentResolved, rep.EndedAt
	}
	if cur != nil {
		s.keys, s.Dropped = cur.keys, cur.Dropped
		if cur.Seq == n && !cur.withRep { // the bucket's word on the rest, the report's headline
			cur.Headline, cur.Team, cur.withRep = rep.Headline, cmp.Or(rep.Team, cur.Team), true
			x.changedLocked()
			return
		}
	}
	x.setLocked(s)
	x.changedLocked()
}

// Thread indexes a delivery record: the message a chat sink posted for an incident.
func (x *Index) Thread(key string, value []byte, deleted bool) {
	sink, part, th := outbox.ThreadOf(key, value)
	if sink == "" {
		return
	}
	if linked := x.thread(sink, part, th, deleted); linked != nil {
		linked(part) // outside the lock: it sends to the browsers
	}
}

// thread records the link, and returns who is to be told of a new one.
func (x *Index) thread(sink, part string, th *notify.Thread, deleted bool) func(string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if deleted || th == nil || th.RootURL == "" || href(th.RootURL) == "" {
		if m := x.threads[part]; m != nil {
			delete(m, sink)
			if len(m) == 0 {
				delete(x.threads, part)
			}
		}
		return nil
	}
	m := x.threads[part]
	if m == nil {
		m = map[string]string{}
		x.threads[part] = m
	}
	if m[sink] == th.RootURL {
		return nil // a record written again, or the bucket read anew: nothing to tell
	}
	m[sink] = th.RootURL
	return x.linked
}

// OnLink has f told of every chat link that is new or changed, with the incident's delivery
// record key part (outbox.RecordIncidentKey: its id, unless that cannot be a key).
func (x *Index) OnLink(f func(part string)) {
	x.mu.Lock()
	x.linked = f
	x.mu.Unlock()
}

// Links are the chat messages posted for incident id, by sink name.
func (x *Index) Links(id string) []ChatLink {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.linksLocked(id)
}

func (x *Index) linksLocked(id string) []ChatLink {
	m := x.threads[outbox.RecordIncidentKey(id)]
	out := make([]ChatLink, 0, len(m))
	for sink, u := range m {
		out = append(out, ChatLink{sink, u})
	}
	slices.SortFunc(out, func(a, b ChatLink) int { return strings.Compare(a.Sink, b.Sink) })
	return out
}

// Loaded says the index holds everything the bucket held when the watch started.
func (x *Index) Loaded() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.loaded
}

func (x *Index) setLoaded() {
	x.mu.Lock()
	x.loaded = true
	x.mu.Unlock()
}

// setLocked and deleteLocked change byID and keep the open counts with it: the live updates
// title every report with them, and counting 10,000 incidents per report made a storm of
// 10,000 openings quadratic.
func (x *Index) setLocked(s *Summary) {
	x.deleteLocked(s.ID)
	x.byID[s.ID] = s
	if s.Open() {
		x.open[s.Severity]++
	}
}

func (x *Index) deleteLocked(id string) {
	old := x.byID[id]
	if old == nil {
		return
	}
	delete(x.byID, id)
	if old.Open() {
		if x.open[old.Severity]--; x.open[old.Severity] == 0 {
			delete(x.open, old.Severity)
		}
	}
}

func (x *Index) changedLocked() {
	x.sorted = nil
	if len(x.byID) > x.max+x.max/16 { // in batches: sorting 10,000 for each new one would not do
		x.evictLocked()
	}
}

// evictLocked drops incidents beyond max, the resolved ones updated longest ago first, then the
// open ones opened longest ago, and the chat links of incidents no longer indexed.
func (x *Index) evictLocked() {
	all := make([]*Summary, 0, len(x.byID))
	for _, s := range x.byID {
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *Summary) int {
		if a.Open() != b.Open() {
			if a.Open() {
				return -1
			}
			return 1
		}
		if a.Open() {
			return b.OpenedAt.Compare(a.OpenedAt)
		}
		return b.UpdatedAt.Compare(a.UpdatedAt)
	})
	for _, s := range all[min(x.max, len(all)):] {
		x.deleteLocked(s.ID)
		x.evicted++
	}
	for k, id := range x.byKey {
		if x.byID[id] == nil {
			delete(x.byKey, k)
		}
	}
	if len(x.threads) > x.max {
		keep := make(map[string]bool, len(x.byID))
		for id := range x.byID {
			keep[outbox.RecordIncidentKey(id)] = true
		}
		for part := range x.threads {
			if !keep[part] {
				delete(x.threads, part)
			}
		}
	}
}

// sortedLocked is every indexed incident, newest first; expired ones are dropped on the way.
// The caller holds the write lock.
func (x *Index) sortedLocked() []*Summary {
	if x.sorted != nil {
		return x.sorted
	}
	out := make([]*Summary, 0, len(x.byID))
	expired := time.Time{}
	if x.maxAge > 0 {
		expired = x.now().Add(-x.maxAge)
	}
	dropped := false
	for id, s := range x.byID {
		if x.maxAge > 0 && s.UpdatedAt.Before(expired) {
			x.deleteLocked(id) // the bucket no longer has it either
			delete(x.threads, outbox.RecordIncidentKey(id))
			dropped = true
			continue
		}
		out = append(out, s)
	}
	if dropped {
		// Expired keys come with no delete marker: without this, their keys would stay for the
		// life of the process when age, not max, keeps the index small.
		for k, id := range x.byKey {
			if x.byID[id] == nil {
				delete(x.byKey, k)
			}
		}
	}
	slices.SortFunc(out, compareNewestFirst)
	x.sorted = out
	return out
}

// compareNewestFirst orders as the incidents API lists: by opening, newest first, then by last
// update, newest first, then by id.
func compareNewestFirst(a, b *Summary) int {
	if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
		return c
	}
	if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// reportNumber is n of a report id "<incident>.<n>.<event>", 0 when the id has no such form.
func reportNumber(rep *triaged.Report) int {
	rest, ok := strings.CutPrefix(rep.ID, rep.IncidentID+".")
	if !ok {
		return 0
	}
	digits, _, _ := strings.Cut(rest, ".")
	n, _ := strconv.Atoi(digits)
	return n
}
