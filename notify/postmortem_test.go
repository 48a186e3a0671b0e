package notify

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/golden"
)

// TestPostmortemGolden renders the postmortem skeleton of the checkout incident (opened, updated,
// resolved) and compares it with testdata/postmortem_p1.md.
func TestPostmortemGolden(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	inc, reports := checkoutIncident()
	got, err := r.Postmortem(inc, reports)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "postmortem_p1.md"), got)

	// The reports may come in any order: the timeline is in time order.
	reversed := []triaged.Report{reports[2], reports[1], reports[0]}
	again, err := r.Postmortem(inc, reversed)
	if err != nil || string(again) != string(got) {
		t.Errorf("the postmortem depends on the order of the reports (err %v)", err)
	}
}

// Without reports and without evidence, the postmortem still has a timeline from the incident's
// report references, and says the evidence was not collected instead of "none found".
func TestPostmortemWithoutReportsOrEvidence(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	inc, _ := checkoutIncident()
	inc.Evidence = nil
	inc.State, inc.ResolvedAt, inc.Episodes = triaged.IncidentOpen, nil, nil
	got, err := r.Postmortem(inc, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := string(got)
	for _, want := range []string{
		"**Duration**: _ongoing: not resolved yet_ (since 2026-03-14T09:26:53Z)",
		"| 09:27:25 | Report opened at P1 |",
		"| 09:31:53 | Report updated at P1 |",
		"- SLA breach: _not resolved yet_",
		"Recent changes: _not collected: neither the incident nor a report of it carries the evidence of its opening._",
		"- Health probes: _not collected: neither the incident",
		"- Logs: _not collected: neither the incident",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("postmortem lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "None found") || strings.Contains(out, "none found") {
		t.Errorf("postmortem states as a fact what it never saw:\n%s", out)
	}
	if _, err := r.Postmortem(nil, nil); err == nil {
		t.Error("Postmortem(nil) did not fail")
	}
}

// A postmortem is built from the same untrusted labels as the reports, and escaped the same way,
// in the timeline's table cells too.
func TestPostmortemIsEscaped(t *testing.T) {
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	rep := hostile()
	rep.RecentChanges = []triaged.Change{{Service: "<!channel>", Version: "v1 | x", Author: "@here", Time: t0.Add(-time.Minute), MinutesBefore: 1, Suspect: true}}
	rep.Pending = nil
	inc := &triaged.Incident{
		ID: "deadbeefdeadbeef-20260314T092653Z", State: triaged.IncidentOpen, Severity: triaged.P4, OpenedAt: t0,
		Service: triaged.Service{Name: rep.Service, Environment: rep.Environment},
		Members: []triaged.Member{{Fingerprint: "deadbeefdeadbeef", Status: triaged.StatusFiring, StartsAt: t0,
			Labels: map[string]string{"alertname": "x", "instance": "a|b\n# PWNED <script>"}}},
	}
	got, err := r.Postmortem(inc, []triaged.Report{*rep})
	if err != nil {
		t.Fatal(err)
	}
	out := string(got)
	// The log excerpt keeps its "<!channel>" inside a code fence and the version its "|" inside a
	// code span, where they are literal text; nothing else may appear unescaped.
	for _, bad := range []string{"<script>", "\n# PWNED", "@here", "a|b"} {
		if strings.Contains(out, bad) {
			t.Errorf("postmortem contains %q unescaped:\n%s", bad, out)
		}
	}
	for _, want := range []string{
		`| 09:26:53 | 1 alert started firing: a\|b # PWNED &lt;script> |`,
		`Deploy of &lt;!channel> v1 \| x, by @` + "\u200b" + `here, 1 min before the alert: suspect`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("postmortem lacks %q:\n%s", want, out)
		}
	}
}
