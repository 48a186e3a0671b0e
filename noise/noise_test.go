package noise_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/noise"
	"github.com/triaged/triaged/noise/noisetest"
)

var (
	begin = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end   = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
)

func analyze(reps []*triaged.Report) noise.Result {
	a := noise.New(noise.Options{})
	for _, r := range reps {
		a.Add(r)
	}
	return a.Result(begin, end)
}

// summary is a row as one line: its measures and its suggestions' changes.
func summary(r noise.Row) string {
	var changes []string
	for _, s := range r.Suggestions {
		changes = append(changes, s.Change)
	}
	return fmt.Sprintf("%s incidents=%d reports=%d flaps=%d auto=%d paged=%d/%d repeats=%d [%s]",
		r.Name, r.Incidents, r.Reports, r.Flaps, r.AutoResolved, r.PagedForNothing, r.Paged, r.Repeats, strings.Join(changes, " | "))
}

// TestThreeAlerts is the proof: the flapping alert ranks first, the one that always
// resolves within a minute second, the quiet one last, each with its suggestions.
func TestThreeAlerts(t *testing.T) {
	res := analyze(noisetest.ThreeAlerts(begin))
	want := []string{
		`KafkaConsumerLag incidents=8 reports=64 flaps=40 auto=0 paged=0/0 repeats=0 [keep_firing_for: 2m]`,
		`ProbeFailed incidents=12 reports=24 flaps=0 auto=12 paged=12/12 repeats=0 [for: 1m | rule "probe-page": P3 instead of P2]`,
		`CertificateExpiringSoon incidents=1 reports=2 flaps=0 auto=0 paged=0/0 repeats=0 []`,
	}
	for _, rows := range [][]noise.Row{res.AlertNames, res.Services} {
		if len(rows) != len(want) {
			t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
		}
		for i, r := range rows {
			got := summary(r)
			if kind := rows[0].Name; kind == "orders" { // services: the same, by service name
				got = strings.NewReplacer("orders", "KafkaConsumerLag", "checkout", "ProbeFailed", "edge", "CertificateExpiringSoon").Replace(got)
			}
			if got != want[i] {
				t.Errorf("row %d:\n got %s\nwant %s", i, got, want[i])
			}
		}
	}
	if got := res.Rules[len(res.Rules)-1].Name; got != "cert-expiry" {
		t.Errorf("quietest rule %q", got)
	}
	if got := res.Rules[0].Name; got != noise.DefaultRule {
		t.Errorf("noisiest rule %q, want the default (KafkaConsumerLag has no rule)", got)
	}
	why := res.AlertNames[1].Suggestions[0].Why
	if !strings.Contains(why, "12 of 12 incidents resolved on their own within 5m, 90% of those within 50s") {
		t.Errorf("for: suggestion says %q", why)
	}
	if why := res.AlertNames[0].Suggestions[0].Why; !strings.Contains(why, "90% of the 24 measured gaps from resolution to refiring were 1m40s or less") {
		t.Errorf("keep_firing_for: suggestion says %q", why)
	}
}

// TestMeasures pins each measure and suggestion on small histories.
func TestMeasures(t *testing.T) {
	p1 := noisetest.Alert{Name: "Down", Service: "api", Rule: "api-down", Severity: triaged.P1}
	at := func(d time.Duration) time.Time { return begin.Add(d) }
	for _, tc := range []struct {
		name    string
		history func(h *noisetest.History)
		want    []string // alertname rows, noisiest first
	}{
		{"P1 resolved at its response time was not for nothing", func(h *noisetest.History) {
			for i := range 3 {
				h.Open(p1, at(time.Duration(i)*72*time.Hour)).Resolve(at(time.Duration(i)*72*time.Hour + 15*time.Minute))
			}
		}, []string{`Down incidents=3 reports=6 flaps=0 auto=0 paged=0/3 repeats=0 []`}},
		{"P1 resolved before its response time, P1 becomes P2", func(h *noisetest.History) {
			for i := range 3 {
				h.Open(p1, at(time.Duration(i)*72*time.Hour)).Resolve(at(time.Duration(i)*72*time.Hour + 14*time.Minute))
			}
		}, []string{`Down incidents=3 reports=6 flaps=0 auto=0 paged=3/3 repeats=0 [rule "api-down": P2 instead of P1]`}},
		{"auto-resolved at exactly 5m counts; for: is longer than the 90th percentile", func(h *noisetest.History) {
			a := noisetest.Alert{Name: "Blip", Service: "api", Severity: triaged.P4}
			for i := range 4 {
				h.Open(a, at(time.Duration(i)*72*time.Hour)).Resolve(at(time.Duration(i)*72*time.Hour + 5*time.Minute))
			}
		}, []string{`Blip incidents=4 reports=8 flaps=0 auto=4 paged=0/0 repeats=0 [for: 6m]`}},
		{"fewer than three incidents make no for: suggestion", func(h *noisetest.History) {
			a := noisetest.Alert{Name: "Blip", Service: "api", Severity: triaged.P4}
			h.Open(a, at(0)).Resolve(at(time.Minute))
			h.Open(a, at(72*time.Hour)).Resolve(at(72*time.Hour + time.Minute))
		}, []string{`Blip incidents=2 reports=4 flaps=0 auto=2 paged=0/0 repeats=0 []`}},
		{"opened again within a day is a repeat; the default rule is named so", func(h *noisetest.History) {
			a := noisetest.Alert{Name: "DiskFull", Service: "db", Severity: triaged.P2}
			h.Open(a, at(0)).Resolve(at(2 * time.Hour))
			h.Open(a, at(20*time.Hour)).Resolve(at(22 * time.Hour))
			h.Open(a, at(47*time.Hour)).Resolve(at(49 * time.Hour))
		}, []string{`DiskFull incidents=3 reports=6 flaps=0 auto=0 paged=0/3 repeats=1 []`}},
		{"a symptom firing under its cause each time: inhibit it", func(h *noisetest.History) {
			cause := noisetest.Alert{Name: "DatabaseDown", Service: "shop", Severity: triaged.P1, Labels: map[string]string{"env": "prod", "instance": "db-1"}}
			symptom := noisetest.Alert{Name: "CheckoutErrors", Service: "shop", Severity: triaged.P3, Labels: map[string]string{"env": "prod", "instance": "web-1"}}
			for i := range 3 {
				t0 := time.Duration(i) * 72 * time.Hour
				h.Open(cause, at(t0)).Resolve(at(t0 + 30*time.Minute))
				h.Open(symptom, at(t0+time.Minute)).Resolve(at(t0 + 31*time.Minute))
			}
		}, []string{ // as noisy as each other: by name
			`CheckoutErrors incidents=3 reports=6 flaps=0 auto=0 paged=0/0 repeats=0 [inhibit_rules: [{source_matchers: [alertname="DatabaseDown"], target_matchers: [alertname="CheckoutErrors"], equal: [env, service]}]]`,
			`DatabaseDown incidents=3 reports=6 flaps=0 auto=0 paged=0/3 repeats=0 []`,
		}},
		{"flapping declared on a refiring whose resolution was held back, edges counted from the summary", func(h *noisetest.History) {
			a := noisetest.Alert{Name: "Wobble", Service: "api", Severity: triaged.P3}
			h.Open(a, at(0)).Flap(at(20*time.Minute), "fired 4 times within 30m0s, about every 5m0s; reports of each edge are suppressed until it is stable for 10m0s. Consider `keep_firing_for: 3m` (twice the longest resolved gap seen) or a longer `for:` on the alerting rule").
				StopFlapping(at(time.Hour), 7)
		}, []string{`Wobble incidents=1 reports=3 flaps=4 auto=0 paged=0/0 repeats=0 [keep_firing_for: 3m]`}},
		{"one reopening is not flapping", func(h *noisetest.History) {
			a := noisetest.Alert{Name: "Once", Service: "api", Severity: triaged.P3}
			h.Open(a, at(0)).Resolve(at(time.Hour)).Reopen(at(90 * time.Minute)).Resolve(at(2 * time.Hour))
		}, []string{`Once incidents=1 reports=4 flaps=1 auto=0 paged=0/0 repeats=0 []`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h noisetest.History
			tc.history(&h)
			res := analyze(h.Reports())
			var got []string
			for _, r := range res.AlertNames {
				got = append(got, summary(r))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestScore pins the score's definition: reports, flaps, auto-resolved, twice paged for
// nothing, and repeats, per day.
func TestScore(t *testing.T) {
	var h noisetest.History
	a := noisetest.Alert{Name: "Page", Service: "api", Rule: "r", Severity: triaged.P2}
	h.Open(a, begin).Resolve(begin.Add(time.Minute))                  // 2 reports, auto-resolved, paged for nothing
	h.Open(a, begin.Add(time.Hour)).Resolve(begin.Add(3 * time.Hour)) // 2 reports, repeat; 2h is past P2's 1h
	an := noise.New(noise.Options{})
	for _, r := range h.Reports() {
		an.Add(r)
	}
	res := an.Result(begin, begin.Add(48*time.Hour))
	r := res.AlertNames[0]
	if want := (4.0 + 0 + 1 + 2*1 + 1) / 2; r.Score != want || r.ReportsPerDay != 2 || res.Days != 2 {
		t.Errorf("score %v, reports/day %v over %v days; want %v, 2 over 2", r.Score, r.ReportsPerDay, res.Days, want)
	}
}
