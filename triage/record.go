package triage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
)

// An incident's record is one entry of the incidents bucket, and so one NATS message: it must fit
// the server's max payload, or every change of the incident fails to store, is retried and
// dead-lettered, and the incident is heard of no more. Each part is bounded where it is made (the
// members by their budget, the group context, the evidence's lists, the report waiting in the
// outbox by report.max_bytes); fitRecord is the last guard, for what those bounds did not foresee.

// DefaultRecordMaxBytes is what a record may take when the NATS server's max payload is not
// known: its default, 1 MiB, less recordHeadroom.
const DefaultRecordMaxBytes = 1<<20 - recordHeadroom

// recordHeadroom is left of the max payload for the headers of a bucket write.
const recordHeadroom = 1 << 10

// encodeRecord encodes a record or an incident as stored: without escaping HTML, which would
// store six bytes for each <, > and & of a label, a link or a report waiting in the outbox.
func encodeRecord(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// recordLevels is how many ever tighter passes fitRecord makes.
const recordLevels = 8

// fitRecord encodes r within max bytes. A record over it is trimmed in place, ever tighter, the
// way the report budget trims a report (EncodeReportWithin): first the evidence (long values cut
// with triaged.CutMarker, lists shortened with their counts kept, the oldest log lines first) and
// the changes waiting to be reported, then the report references, then the members (kept
// without annotations, then counted in MembersDropped), and at last the report waiting in the
// outbox is encoded again within half its size. notes say what was done; the evidence says so
// too, in an observation every later report shows.
func fitRecord(r *record, max int) (data []byte, notes []string, err error) {
	data, err = encodeRecord(r)
	if err != nil || len(data) <= max {
		return data, nil, err
	}
	size := len(data)
	t := &recordTrimmer{max: max}
	for t.level = 0; t.level < recordLevels; t.level++ {
		t.trim(r)
		if data, err = encodeRecord(r); err != nil {
			return nil, nil, err
		}
		if len(data) <= max {
			return data, append([]string{fmt.Sprintf("the record was %d bytes, over the %d it may take", size, max)}, t.notes...), nil
		}
	}
	// Unreachable with the bounds above: what is left is the incident's identity and counts.
	return nil, nil, broker.Permanent(fmt.Errorf("the record of incident %s takes %d bytes even trimmed, over the %d it may take", r.ID, len(data), max))
}

// recordTrimmer trims a record level by level; every next level halves what a value and a list
// may keep.
type recordTrimmer struct {
	max, level int
	notes      []string
	evidence   bool // the record's evidence is a copy of its own, with the observation saying so
}

func (t *recordTrimmer) listCap() int  { return max(64>>t.level, 1) }
func (t *recordTrimmer) valueCap() int { return max(t.max/(16<<t.level), 64) }

func (t *recordTrimmer) note(format string, args ...any) {
	t.notes = append(t.notes, fmt.Sprintf("level %d: ", t.level)+fmt.Sprintf(format, args...))
}

func (t *recordTrimmer) trim(r *record) {
	n, vc := t.listCap(), t.valueCap()
	if r.Evidence != nil {
		t.trimEvidence(r, n, vc)
	}
	if d := len(r.Pending) - n; d > 0 {
		r.Pending = append([]string{fmt.Sprintf("(%d earlier changes not listed)", d)}, r.Pending[d+1:]...)
		t.note("changes waiting to be reported: the last %d kept", n)
	}
	r.Pending = slices.Clone(r.Pending)
	if c, _ := triaged.CutValues(r.Pending, vc); c > 0 {
		t.note("changes waiting to be reported: %d cut at %d bytes", c, vc)
	}
	if d := len(r.Reports) - n; d > 0 {
		r.Reports = slices.Clone(r.Reports[d:])
		for i := range r.Outbox {
			if r.Outbox[i].Report >= 0 {
				r.Outbox[i].Report = max(r.Outbox[i].Report-d, -1)
			}
		}
		t.note("report references: the last %d kept", n)
	}
	if t.level >= 2 {
		t.trimMembers(r, n)
	}
	if t.level == recordLevels-1 {
		t.shrinkOutbox(r)
	}
}

// trimEvidence shortens the evidence's lists to n entries and its values to vc bytes, on a copy:
// the evidence may be shared with the incident the record was made from.
func (t *recordTrimmer) trimEvidence(r *record, n, vc int) {
	if !t.evidence {
		data, err := json.Marshal(r.Evidence)
		var cp triaged.Enrichment
		if err != nil || json.Unmarshal(data, &cp) != nil {
			cp = triaged.Enrichment{}
			for _, s := range []string{triaged.SectionRecentChanges, triaged.SectionProbes, triaged.SectionLogs, triaged.SectionMetrics, triaged.SectionRunbook} {
				cp.Pend(s, "left out: the incident's record was too big for NATS")
			}
		}
		cp.Observations = append(cp.Observations, "evidence trimmed to keep the incident's record within what NATS stores in one message")
		r.Evidence, t.evidence = &cp, true
	}
	e := r.Evidence
	if d := len(e.Changes) - n; d > 0 {
		e.Changes, e.ChangesOmitted = e.Changes[:n], e.ChangesOmitted+d
		t.note("evidence: the %d recent changes nearest the alert kept, %d more counted", n, d)
	}
	if d := len(e.Probes) - n; d > 0 {
		e.Probes = e.Probes[:n]
		t.note("evidence: the first %d probes kept", n)
	}
	for i := range e.Logs {
		l := &e.Logs[i]
		if d := len(l.Lines) - 2*n; d > 0 {
			l.Lines, l.LinesOmitted, l.Truncated = l.Lines[d:], l.LinesOmitted+d, true
			t.note("evidence: logs of %s, the last %d lines kept", l.Source, 2*n)
		}
	}
	var cut []string
	e.Metrics, cut = triaged.TrimMetrics(e.Metrics, n)
	for _, c := range cut {
		t.note("evidence: %s", c)
	}
	if m := e.MeasuredImpact; m != nil && len(m.Queries) > n {
		m.Queries = m.Queries[:n]
		t.note("evidence: the first %d queries of the measured impact kept", n)
	}
	if d := len(e.Observations) - n; d > 0 {
		// The last one says the evidence was trimmed.
		e.Observations = append(e.Observations[:n-1:n-1], e.Observations[len(e.Observations)-1])
		t.note("evidence: %d observations left out", d)
	}
	if rb := e.Runbook; rb != nil {
		rb.Steps, rb.Why = rb.Steps[:min(len(rb.Steps), n)], rb.Why[:min(len(rb.Why), n)]
	}
	if c, links := triaged.CutValues(e, vc); c+links > 0 {
		t.note("evidence: %d values cut at %d bytes, %d links left out", c, vc, links)
	}
}

// trimMembers keeps the first n members whole and the others without annotations; from level 4
// it keeps only the first 4n, counting the rest in MembersDropped.
func (t *recordTrimmer) trimMembers(r *record, n int) {
	r.Members = slices.Clone(r.Members)
	trimmed := 0
	for i := n; i < len(r.Members); i++ {
		if !r.Members[i].Trimmed {
			trimMember(&r.Members[i])
			trimmed++
		}
	}
	if trimmed > 0 {
		t.note("members: %d kept without annotations and generator URL", trimmed)
	}
	if keep := 4 * n; t.level >= 4 && len(r.Members) > keep {
		d := len(r.Members) - keep
		r.Members, r.MembersDropped = r.Members[:keep], r.MembersDropped+d
		t.note("members: %d dropped, counted", d)
	}
}

// shrinkOutbox encodes the reports waiting in the outbox again within half their size: the last
// resort, since a report waits there only until it is published.
func (t *recordTrimmer) shrinkOutbox(r *record) {
	for i := range r.Outbox {
		m := &r.Outbox[i]
		rep, err := triaged.DecodeReport(m.Data)
		if err != nil || rep.ID != m.MsgID {
			continue // a timer
		}
		data, _, err := triaged.EncodeReportWithin(rep, max(len(m.Data)/2, triaged.MinReportMaxBytes))
		if err == nil && len(data) < len(m.Data) {
			t.note("report %s waiting to be published: encoded again in %d bytes, from %d", m.MsgID, len(data), len(m.Data))
			m.Data = data
		}
	}
}
