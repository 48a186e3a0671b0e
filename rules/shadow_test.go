package rules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/testkit"
)

const (
	inForceFile   = "testdata/shadow/in-force.rules.yml"
	candidateFile = "testdata/shadow/candidate.rules.yml"
)

// shadowStream is a known stream of alerts: the candidate disagrees with the rules in force on
// the prod HighLatency (P3→P2) and DiskAlmostFull (P4→dropped) alerts, and on escalating the
// frontend one (P3→P4), and on nothing else.
func shadowStream() []*triaged.Alert {
	return []*triaged.Alert{
		alert("HighLatency", "env", "prod", "n", "1"),
		alert("HighLatency", "env", "staging"),
		alert("DiskAlmostFull", "n", "1"),
		alert("HighLatency", "env", "prod", "n", "2"),
		alert("DatabaseDown"),
		alert("InfoInhibitor"),
		alert("HighLatency", "env", "staging", "n", "2"),
		alert("DiskAlmostFull", "n", "2"),
		alert("CheckoutErrors", "tier", "frontend"),
		alert("HighLatency", "env", "prod", "n", "3"),
	}
}

// feed has the rules in force decide each alert, as the worker does, and shows it to s: every
// alert is classified, and each one not dropped is investigated as an incident of its own.
func feed(t *testing.T, s *Shadow, inForce *RuleSet, alerts []*triaged.Alert) {
	t.Helper()
	svc := triaged.Service{Name: "shop"}
	for i, a := range alerts {
		now := evalTime.Add(time.Duration(i) * time.Second)
		c := inForce.Classify(a, svc, now)
		s.CompareClassify(c, a, svc, now)
		if !c.Dropped {
			s.CompareEscalate(c, inForce.Escalate(c, a, svc, triaged.Enrichment{}, now), a, svc, triaged.Enrichment{}, now)
		}
	}
}

func newTestShadow(t *testing.T, file string, o ShadowOptions) (*Shadow, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	if o.Now == nil {
		o.Now = func() time.Time { return evalTime.Add(-time.Hour) }
	}
	s, err := NewShadow([]string{file}, o)
	if err != nil {
		t.Fatal(err)
	}
	return s, reg
}

func TestShadowCountsDisagreementsExactly(t *testing.T) {
	inForce, err := LoadFiles(inForceFile)
	if err != nil {
		t.Fatal(err)
	}
	s, reg := newTestShadow(t, candidateFile, ShadowOptions{})
	feed(t, s, inForce, shadowStream())

	for _, c := range []struct {
		vec    *prometheus.CounterVec
		labels []string
		want   float64
	}{
		{s.evaluations, []string{"classify"}, 10},
		{s.evaluations, []string{"escalate"}, 9}, // all but the dropped InfoInhibitor
		{s.disagreements, []string{"P3", "P2"}, 3},
		{s.disagreements, []string{"P4", "dropped"}, 2},
		{s.disagreements, []string{"P3", "P4"}, 1},
		{s.matches, []string{"in_force", "classify", "latency"}, 5},
		{s.matches, []string{"shadow", "classify", "latency-by-env"}, 5},
		{s.matches, []string{"shadow", "classify", "drop-disk-noise"}, 2},
		{s.matches, []string{"in_force", "classify", "default"}, 3},
		{s.matches, []string{"shadow", "classify", "default"}, 1},
		{s.matches, []string{"in_force", "escalate", "frontend"}, 1},
	} {
		if got := testutil.ToFloat64(c.vec.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("%v = %v, want %v", c.labels, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(s.disagreements); n != 3 {
		t.Errorf("%d disagreement series, want 3", n)
	}
	if got := testutil.CollectAndCount(reg, "triaged_rules_shadow_info"); got != 1 {
		t.Errorf("%d triaged_rules_shadow_info series, want 1", got)
	}

	st := s.Status(0)
	if st.Version != s.Current().Version() || len(st.Files) != 1 || !strings.HasSuffix(st.Files[0], "candidate.rules.yml") {
		t.Errorf("version %q files %v", st.Version, st.Files)
	}
	if st.Evaluations[StageClassify] != 10 || st.Evaluations[StageEscalate] != 9 || st.Disagreements != 6 {
		t.Errorf("evaluations %v, disagreements %d", st.Evaluations, st.Disagreements)
	}
	wantMoves := []ShadowTransition{{"P3", "P2", 3}, {"P4", "dropped", 2}, {"P3", "P4", 1}}
	if len(st.Transitions) != len(wantMoves) {
		t.Fatalf("transitions %v, want %v", st.Transitions, wantMoves)
	}
	for i := range wantMoves {
		if st.Transitions[i] != wantMoves[i] {
			t.Errorf("transition %d: %v, want %v", i, st.Transitions[i], wantMoves[i])
		}
	}
	var got []string
	for _, d := range st.Latest {
		got = append(got, string(d.Stage)+" "+d.AlertName+" "+d.Labels["n"]+": "+d.InForce.Severity+" ("+d.InForce.Rule+") → "+d.Shadow.Severity+" ("+d.Shadow.Rule+")")
	}
	want := []string{
		"classify HighLatency 3: P3 (latency) → P2 (latency-by-env)",
		"escalate CheckoutErrors : P3 (frontend) → P4 ()",
		"classify DiskAlmostFull 2: P4 (default) → dropped (drop-disk-noise)",
		"classify HighLatency 2: P3 (latency) → P2 (latency-by-env)",
		"classify DiskAlmostFull 1: P4 (default) → dropped (drop-disk-noise)",
		"classify HighLatency 1: P3 (latency) → P2 (latency-by-env)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("latest, newest first:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d := st.Latest[0]
	if !d.Time.Equal(evalTime.Add(9*time.Second)) || d.Service != "shop" || d.Fingerprint != shadowStream()[9].ID() || d.Labels["env"] != "prod" {
		t.Errorf("newest disagreement %+v", d)
	}
	if !st.Since.Equal(evalTime.Add(-time.Hour)) || st.Kept != DefaultShadowMaxDisagreements {
		t.Errorf("since %v kept %d", st.Since, st.Kept)
	}
}

func TestShadowKeepsTheLatestNewestFirst(t *testing.T) {
	inForce, err := LoadFiles(inForceFile)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTestShadow(t, candidateFile, ShadowOptions{MaxDisagreements: 4})
	var alerts []*triaged.Alert
	for i := range 10 {
		alerts = append(alerts, alert("HighLatency", "env", "prod", "n", string(rune('0'+i))))
	}
	feed(t, s, inForce, alerts)
	for _, c := range []struct {
		limit int
		want  string
	}{{0, "9876"}, {2, "98"}, {4, "9876"}, {100, "9876"}} {
		var got string
		for _, d := range s.Status(c.limit).Latest {
			got += d.Labels["n"]
		}
		if got != c.want {
			t.Errorf("limit %d: %q, want %q", c.limit, got, c.want)
		}
	}
	if st := s.Status(0); st.Disagreements != 10 || st.Kept != 4 {
		t.Errorf("disagreements %d kept %d: the counts are of all, the list of the latest", st.Disagreements, st.Kept)
	}
}

func TestShadowBoundsLabels(t *testing.T) {
	ls := map[string]string{}
	for i := range ShadowMaxLabels + 8 {
		ls[string(rune('a'+i/26))+string(rune('a'+i%26))] = "v"
	}
	ls["aa"] = strings.Repeat("é", ShadowMaxLabelValue) // two bytes each: cut inside one
	got, omitted := boundLabels(ls)
	if len(got) != ShadowMaxLabels || omitted != 8 {
		t.Errorf("%d labels kept, %d omitted; want %d and 8", len(got), omitted, ShadowMaxLabels)
	}
	if _, ok := got["bn"]; ok {
		t.Error("kept a label after the first ones in name order")
	}
	v := got["aa"]
	if !utf8.ValidString(v) || len(v) > ShadowMaxLabelValue+len("…") || !strings.HasSuffix(v, "…") {
		t.Errorf("cut value: %d bytes, valid UTF-8 %v", len(v), utf8.ValidString(v))
	}
}

// TestShadowReload: a broken candidate is refused and the set in force stays, with what it
// counted; a new candidate starts counting afresh.
func TestShadowReload(t *testing.T) {
	inForce, err := LoadFiles(inForceFile)
	if err != nil {
		t.Fatal(err)
	}
	candidate, err := os.ReadFile(candidateFile)
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, t.TempDir(), "candidate.rules.yml", string(candidate))
	s, reg := newTestShadow(t, path, ShadowOptions{})
	feed(t, s, inForce, shadowStream())
	before := s.Status(0)

	writeFile(t, filepath.Dir(path), "candidate.rules.yml", "rules:\n  - name: broken\n    when: labels.x ==\n    severity: P2\n")
	err = s.Reload()
	if err == nil || !strings.Contains(err.Error(), "candidate.rules.yml:3:") {
		t.Fatalf("reload of a broken file: %v, want an error placed in the file", err)
	}
	after := s.Status(0)
	if after.Version != before.Version || after.Disagreements != 6 || len(after.Latest) != 6 {
		t.Errorf("after a failed reload: version %s (was %s), %d disagreements", after.Version, before.Version, after.Disagreements)
	}

	in, err := os.ReadFile(inForceFile)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Dir(path), "candidate.rules.yml", string(in))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	fresh := s.Status(0)
	if fresh.Version == before.Version || fresh.Version != inForce.Version() || fresh.Disagreements != 0 || len(fresh.Latest) != 0 || fresh.Evaluations[StageClassify] != 0 {
		t.Errorf("after a new candidate: %+v", fresh)
	}
	feed(t, s, inForce, shadowStream())
	if st := s.Status(0); st.Disagreements != 0 || st.Evaluations[StageClassify] != 10 {
		t.Errorf("the rules in force as candidate: %d disagreements in %v", st.Disagreements, st.Evaluations)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`# HELP triaged_rules_shadow_info The shadow rule set (rules.shadow_files) evaluated beside the rules in force: version is its content hash. Always 1.
# TYPE triaged_rules_shadow_info gauge
triaged_rules_shadow_info{version="`+inForce.Version()+`"} 1
`), "triaged_rules_shadow_info"); err != nil {
		t.Error(err)
	}
	// The shadow side's rules of the replaced set are no longer exported.
	if n := testutil.CollectAndCount(s.matches); n != 10 {
		t.Errorf("%d rule match series, want 10: the same 5 rules on both sides", n)
	}
}

func TestNewShadowWithoutFiles(t *testing.T) {
	if _, err := NewShadow(nil, ShadowOptions{}); err == nil {
		t.Error("no error")
	}
}

// TestShadowWatch: a candidate edited on disk is picked up by itself, and what was kept of the
// previous one is gone.
func TestShadowWatch(t *testing.T) {
	inForce, err := LoadFiles(inForceFile)
	if err != nil {
		t.Fatal(err)
	}
	candidate, err := os.ReadFile(candidateFile)
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, t.TempDir(), "candidate.rules.yml", string(candidate))
	s, _ := newTestShadow(t, path, ShadowOptions{})
	feed(t, s, inForce, shadowStream())
	first := s.Status(0).Version

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Watch(ctx) }()
	defer func() { cancel(); <-done }()
	// As in TestWatchReloadsChangedFiles: write again until the watch, set up meanwhile, sees it.
	var lastWrite time.Time
	testkit.Eventually(t, 10*time.Second, "the watch reloads the changed candidate", func() bool {
		if s.Current().Version() != first {
			return true
		}
		if time.Since(lastWrite) > 400*time.Millisecond {
			tmp := path + ".tmp"
			writeFile(t, filepath.Dir(path), "candidate.rules.yml.tmp", string(candidate)+"  - name: extra\n    when: alertname == \"Extra\"\n    severity: P1\n")
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			lastWrite = time.Now()
		}
		return false
	})
	if st := s.Status(0); st.Version == first || st.Disagreements != 0 || len(st.Latest) != 0 {
		t.Errorf("after the candidate changed on disk: version %s (was %s), %d disagreements kept", st.Version, first, st.Disagreements)
	}
}
