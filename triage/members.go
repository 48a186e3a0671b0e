package triage

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/triaged/triaged"
)

// Bounds of what a member keeps of its alert's labels and annotations: 500 members must fit in
// one bucket entry and 50 of them in one report, whatever a sender put in an alert.
const (
	maxMemberPairs      = 64
	maxMemberValueBytes = 1024
	maxMemberNameBytes  = 128
)

// bounded copies a label or annotation set, at most maxMemberPairs pairs (by name) and values
// cut at maxMemberValueBytes, each cut marked with how many bytes it lost.
func bounded(kv map[string]string) map[string]string {
	if len(kv) == 0 {
		return kv
	}
	names := make([]string, 0, len(kv))
	for k := range kv {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(map[string]string, min(len(names), maxMemberPairs))
	for _, k := range names[:min(len(names), maxMemberPairs)] {
		out[triaged.CutString(k, maxMemberNameBytes)] = triaged.CutString(kv[k], maxMemberValueBytes)
	}
	return out
}

func member(a arrival) triaged.Member {
	m := triaged.Member{
		Fingerprint: a.alert.ID(), Status: a.alert.Status, Labels: bounded(a.alert.Labels), Annotations: bounded(a.alert.Annotations),
		StartsAt: a.alert.StartsAt.UTC(), GeneratorURL: a.alert.GeneratorURL, Severity: a.cls.Severity, Rule: a.cls.Rule,
	}
	if a.alert.Resolved() && !a.alert.EndsAt.IsZero() {
		m.EndsAt = at(a.alert.EndsAt.UTC())
	}
	return m
}

// The member budget of an incident's record is what the record (one NATS message) leaves beside
// a report waiting to be published (report.max_bytes), the evidence it shows (whose log
// excerpts and probe bodies the config bounds to half the report budget) and membersReserve for
// the rest (group, changes waiting, report references); at least an eighth of the record. 500
// members of 60 annotations of 1 KiB each would take 30 MB.
const (
	membersReserve = 64 << 10
	// DefaultMembersMaxBytes is the member budget with the default report budget and NATS' default
	// max payload: about 575 KiB.
	DefaultMembersMaxBytes = DefaultRecordMaxBytes - triaged.DefaultReportMaxBytes*3/2 - membersReserve
)

// membersBudget is the member budget of records of recordMax bytes holding reports of reportMax.
func membersBudget(recordMax, reportMax int) int {
	return max(recordMax-reportMax*3/2-membersReserve, recordMax/8)
}

func (p Policy) membersMaxBytes() int { return cmp.Or(p.MembersMaxBytes, DefaultMembersMaxBytes) }

// memberBudget keeps an incident's members within what they may take in its record.
type memberBudget struct {
	inc       *triaged.Incident
	max, used int // used < 0: not counted yet
}

func newMemberBudget(inc *triaged.Incident, max int) *memberBudget {
	return &memberBudget{inc: inc, max: max, used: -1}
}

// memberBytes is what m takes in a record, or a little more, without encoding it: the budget
// is checked for every member that joins or changes.
func memberBytes(m *triaged.Member) int {
	n := memberFixedBytes + triaged.JSONLen(m.Fingerprint) + triaged.JSONLen(m.Status) + triaged.JSONLen(m.GeneratorURL) + triaged.JSONLen(m.Rule)
	for _, kv := range []map[string]string{m.Labels, m.Annotations} {
		for k, v := range kv {
			n += triaged.JSONLen(k) + triaged.JSONLen(v) + 2 // colon, comma
		}
	}
	return n
}

// memberFixedBytes bounds what a member takes in a record beside its strings and maps: the field
// names, times of full precision, the severity and the separators.
var memberFixedBytes = func() int {
	t := time.Date(2026, 11, 26, 15, 0, 0, 123456789, time.UTC) // members keep UTC times
	data, _ := json.Marshal(triaged.Member{Labels: map[string]string{}, Annotations: map[string]string{"": ""}, StartsAt: t, EndsAt: &t,
		GeneratorURL: " ", Severity: triaged.P4, Rule: " ", Trimmed: true})
	return len(data) + 1
}()

// fit makes m, a member joining the incident (old nil) or taking the place of old, fit the
// budget. Members keep their annotations and generator URL only while all take at most half the
// budget: the other half is for members without them (trimmed), so that a group of alerts with
// long annotations still keeps all its members, their labels and status. In the place of a
// trimmed member m is trimmed too: a member once trimmed stays so. A joining member that does
// not fit even trimmed is refused (false); one taking another's place is kept whatever it takes,
// since its labels, its identity, are the other's.
func (b *memberBudget) fit(m, old *triaged.Member) bool {
	if b.used < 0 {
		b.used = 0
		for i := range b.inc.Members {
			b.used += memberBytes(&b.inc.Members[i])
		}
	}
	was := 0
	if old != nil {
		was = memberBytes(old)
		if old.Trimmed {
			trimMember(m)
		}
	}
	n := memberBytes(m)
	if b.used-was+n > b.max/2 && !m.Trimmed {
		trimMember(m)
		n = memberBytes(m)
	}
	if b.used-was+n > b.max && old == nil {
		return false
	}
	b.used += n - was
	return true
}

func trimMember(m *triaged.Member) {
	m.Annotations, m.GeneratorURL, m.Trimmed = nil, "", true
}

// maxGroupKeyBytes bounds the group key an incident keeps (twice: as its key and its group
// key). Alertmanager's group keys hold the route's matchers and the group labels' values, so a
// real one is short; the incident's identity is the hash of the whole key.
const maxGroupKeyBytes = 4 << 10

// boundGroup bounds the group context an incident keeps in its record, as its members' labels
// are bounded; the group labels were bounded when copied.
func boundGroup(inc *triaged.Incident) {
	inc.Key = triaged.CutString(inc.Key, maxGroupKeyBytes)
	inc.GroupKey = triaged.CutString(inc.GroupKey, maxGroupKeyBytes)
	inc.Receiver = triaged.CutString(inc.Receiver, maxMemberValueBytes)
	if len(inc.ExternalURL) > maxGroupKeyBytes {
		inc.ExternalURL = "" // a cut link would lead elsewhere
	}
}

func clone(inc *triaged.Incident) *triaged.Incident {
	c := *inc
	c.Members = slices.Clone(inc.Members)
	c.Episodes = slices.Clone(inc.Episodes)
	c.Pending = slices.Clone(inc.Pending)
	c.Reports = slices.Clone(inc.Reports)
	c.Decisions = slices.Clone(inc.Decisions)
	return &c
}

// cutMarker matches the end of a value bounded cut.
var cutMarker = regexp.MustCompile(`…\[[0-9]+ bytes cut\]$`)

// wasCut says whether bounded may have cut a label value: a filter of it would match nothing.
func wasCut(v string) bool { return len(v) >= maxMemberValueBytes || cutMarker.MatchString(v) }
