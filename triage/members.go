package triage

import (
	"regexp"
	"slices"
	"sort"

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
