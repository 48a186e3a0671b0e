package enrich_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/catalog"
	"github.com/triaged/triaged/deploy"
	"github.com/triaged/triaged/enrich"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/testkit"
	"github.com/triaged/triaged/logtail"
	"github.com/triaged/triaged/probe"
	"github.com/triaged/triaged/runbooks"
	"github.com/triaged/triaged/triage"
)

func checkoutAlert() *triaged.Alert {
	return &triaged.Alert{Alert: template.Alert{
		Status:      "firing",
		Labels:      template.KV{"alertname": "TargetDown", "service": "checkout", "env": "prod", "instance": "10.0.0.7:8080"},
		Annotations: template.KV{"summary": "checkout is down"},
		StartsAt:    time.Now().Add(-time.Minute),
		Fingerprint: "00000000000000aa",
	}}
}

func mustCatalog(t *testing.T, services ...catalog.Service) *catalog.Catalog {
	t.Helper()
	c, errs := catalog.Compile(services)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return c
}

// spans records when each request to a slow server started and ended.
type spans struct {
	mu    sync.Mutex
	start []time.Time
	end   []time.Time
}

func (s *spans) handler(d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.start = append(s.start, time.Now())
		s.mu.Unlock()
		time.Sleep(d)
		s.mu.Lock()
		s.end = append(s.end, time.Now())
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
}

// TestEnrichersOverlap: three enrichers of one second each take about one second together,
// because every one of them has started before the first one ends.
func TestEnrichersOverlap(t *testing.T) {
	var sp spans
	var specs []probe.Spec
	for _, name := range []string{"a", "b", "c"} {
		srv := httptest.NewServer(sp.handler(time.Second))
		t.Cleanup(srv.Close)
		specs = append(specs, probe.Spec{Name: name, HTTP: &probe.HTTPSpec{URL: srv.URL, Timeout: confval.Duration(5 * time.Second)}})
	}
	cat := mustCatalog(t, catalog.Service{Name: "checkout", Probes: specs})
	e := enrich.New(enrich.Options{
		Catalog:    cat,
		Timeout:    5 * time.Second,
		Registerer: prometheus.NewRegistry(),
	})
	start := time.Now()
	a := checkoutAlert()
	enr, _ := e.Enrich(context.Background(), a, cat.Resolve(a), triaged.Classification{Severity: triaged.P2})
	elapsed := time.Since(start)
	if len(enr.Probes) != 3 {
		t.Fatalf("%d probe results, want 3", len(enr.Probes))
	}
	for i, p := range enr.Probes {
		if !p.OK || p.Name != []string{"a", "b", "c"}[i] {
			t.Errorf("probe %d: %+v (results must keep config order)", i, p)
		}
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	lastStart, firstEnd := sp.start[0], sp.end[0]
	for _, s := range sp.start {
		if s.After(lastStart) {
			lastStart = s
		}
	}
	for _, e := range sp.end {
		if e.Before(firstEnd) {
			firstEnd = e
		}
	}
	if !lastStart.Before(firstEnd) {
		t.Fatalf("the probes did not overlap: the last started at %v, after the first ended at %v", lastStart, firstEnd)
	}
	t.Logf("three 1s probes took %v together", elapsed)
	if elapsed > 2500*time.Millisecond {
		t.Errorf("three 1s probes took %v: they ran one after another", elapsed)
	}
}

// recordingIndex answers every lookup with no deploys and keeps the queries.
type recordingIndex struct {
	mu      sync.Mutex
	queries []deploy.Query
}

func (r *recordingIndex) Correlate(q deploy.Query) deploy.Correlation {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, q)
	return deploy.Correlation{Changes: []triaged.Change{}, Summary: "looked up", Complete: true}
}

// hangingIndex never answers, like a correlator with a bug.
type hangingIndex struct{ release chan struct{} }

func (h hangingIndex) Correlate(deploy.Query) deploy.Correlation {
	<-h.release
	return deploy.Correlation{}
}

func TestDeadlineBoundsSlowAndHangingEnrichers(t *testing.T) {
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hanging.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "db down; password=hunter2", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })

	reg := prometheus.NewRegistry()
	cat := mustCatalog(t, catalog.Service{Name: "checkout", Probes: []probe.Spec{
		{Name: "hangs", HTTP: &probe.HTTPSpec{URL: hanging.URL, Timeout: confval.Duration(time.Minute)}},
		{Name: "fails", HTTP: &probe.HTTPSpec{URL: failing.URL}},
	}})
	e := enrich.New(enrich.Options{
		Catalog:    cat,
		Deploys:    hangingIndex{release},
		Runbooks:   runbooks.Default(),
		Timeout:    700 * time.Millisecond,
		Registerer: reg,
	})
	start := time.Now()
	a := checkoutAlert()
	enr, _ := e.Enrich(context.Background(), a, cat.Resolve(a), triaged.Classification{Severity: triaged.P1})
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("Enrich returned after %v, far past its 700ms deadline", elapsed)
	}
	if len(enr.Probes) != 2 || enr.Probes[0].OK || enr.Probes[1].OK {
		t.Fatalf("probes %+v, want two failures in config order", enr.Probes)
	}
	if !strings.Contains(enr.Probes[0].Error, "deadline") && !strings.Contains(enr.Probes[0].Error, "timeout") {
		t.Errorf("the hanging probe's error %q does not say it ran out of time", enr.Probes[0].Error)
	}
	if strings.Contains(enr.Probes[1].Body, "hunter2") {
		t.Errorf("a secret in a failed probe's body reached the report: %q", enr.Probes[1].Body)
	}
	if enr.Runbook == nil || !strings.Contains(enr.Runbook.Title, "Service Down") {
		t.Errorf("runbook %+v, want the Service Down runbook", enr.Runbook)
	}
	obs := strings.Join(enr.Observations, "\n")
	if !strings.Contains(obs, "Recent deploys: not collected: still running at the deadline") {
		t.Errorf("the hanging deploy correlation is not reported as timed out:\n%s", obs)
	}
	if got := metrictest.Value(t, reg, "triaged_enrichment_results_total", "enricher", "deploys", "outcome", "timeout"); got != 1 {
		t.Errorf("deploys timeouts = %v, want 1", got)
	}
	if got := metrictest.Value(t, reg, "triaged_enrichment_results_total", "enricher", "probe", "outcome", "failed"); got < 1 {
		t.Errorf("failed probes = %v", got)
	}
	// The hanging correlator was abandoned at the deadline, and is counted until it returns. (The
	// hanging probe may be counted for a moment too: it returns as soon as its request is
	// cancelled.)
	testkit.Eventually(t, 5*time.Second, "one overdue enricher, the hanging deploy correlation", func() bool {
		return metrictest.Value(t, reg, "triaged_enrichment_overdue_goroutines") == 1
	})
	releaseOnce.Do(func() { close(release) })
	testkit.Eventually(t, 5*time.Second, "the overdue gauge back at 0 after the hanging enricher returned", func() bool {
		return metrictest.Value(t, reg, "triaged_enrichment_overdue_goroutines") == 0
	})
}

func TestEnrichFromTheCatalog(t *testing.T) {
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	if err := os.WriteFile(logFile, []byte("ok\nERROR connect to db failed token=abc123\nok\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	svc := catalog.Service{
		Name: "checkout", Environment: "production", Stack: "Go", Owners: []string{"alice"}, Team: "shop",
		Channel: "#inc-checkout", Dependencies: []string{"payments"},
		Logs: []logtail.Spec{{Name: "app", File: &logtail.FileSpec{Path: logFile}}},
	}
	a := checkoutAlert()
	unlabelled := checkoutAlert()
	delete(unlabelled.Labels, "service")
	tests := []struct {
		name        string
		alert       *triaged.Alert
		services    []catalog.Service
		wantService string
		wantFrom    string
		// wantQuery is the deploy lookup expected, nil for none.
		wantQuery   *deploy.Query
		wantPending []string
	}{
		{"in the catalog", a, []catalog.Service{svc}, "checkout", "the service catalog, label service",
			&deploy.Query{Service: "checkout", Environment: "production", Dependencies: []string{"payments"}}, []string{"probes", "runbook", "metrics"}},
		{"a catalog without it keeps the labelled service and its deploys", a, []catalog.Service{{Name: "payments"}}, "checkout", "label service; not in the service catalog",
			&deploy.Query{Service: "checkout", Environment: "prod"}, []string{"probes", "logs", "runbook", "metrics"}},
		{"a catalog without it, nothing labelled", unlabelled, []catalog.Service{{Name: "payments"}}, "unknown", "no service of the catalog matches, and no label of defaults.service_labels",
			nil, []string{"recent_changes", "probes", "logs", "runbook", "metrics"}},
		{"no catalog", a, nil, "checkout", "label service",
			&deploy.Query{Service: "checkout", Environment: "prod"}, []string{"probes", "logs", "runbook", "metrics"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.alert
			cat := mustCatalog(t, tt.services...)
			deploys := &recordingIndex{}
			e := enrich.New(enrich.Options{Catalog: cat, Deploys: deploys, Registerer: prometheus.NewRegistry()})
			svc := cat.Resolve(a)
			enr, _ := e.Enrich(context.Background(), a, svc, triaged.Classification{Severity: triaged.P2})
			rep := triage.BuildReport(&triaged.Incident{ID: "test", OpenedAt: a.StartsAt}, a, svc, triaged.Classification{Severity: triaged.P2}, enr, triaged.EventOpened, nil, time.Now())
			if rep.Service != tt.wantService || rep.ServiceFrom != tt.wantFrom {
				t.Errorf("service %q (from %q), want %q (from %q)", rep.Service, rep.ServiceFrom, tt.wantService, tt.wantFrom)
			}
			switch got := deploys.queries; {
			case tt.wantQuery == nil && len(got) > 0:
				t.Errorf("deploys looked up for %+v, want no lookup", got[0])
			case tt.wantQuery != nil && len(got) != 1:
				t.Errorf("%d deploy lookups, want 1", len(got))
			case tt.wantQuery != nil && (got[0].Service != tt.wantQuery.Service || got[0].Environment != tt.wantQuery.Environment ||
				strings.Join(got[0].Dependencies, ",") != strings.Join(tt.wantQuery.Dependencies, ",") || !got[0].AlertStart.Equal(a.StartsAt)):
				t.Errorf("deploys looked up for %+v, want %+v", got[0], *tt.wantQuery)
			case tt.wantQuery != nil && rep.RecentChangesSummary != "looked up":
				t.Errorf("recent changes summary %q, want the index's", rep.RecentChangesSummary)
			}
			if got := strings.Join(enr.Pending, ","); got != strings.Join(tt.wantPending, ",") {
				t.Errorf("pending %q, want %q", got, strings.Join(tt.wantPending, ","))
			}
			if svc.Catalogue == triaged.InCatalog {
				if rep.Environment != "production" || rep.Stack != "Go" || rep.Team != "shop" || rep.Channel != "#inc-checkout" || len(rep.Owners) != 1 || len(rep.Dependencies) != 1 {
					t.Errorf("catalog facts missing from the report: %+v", rep)
				}
				if len(rep.Logs) != 1 || len(rep.Logs[0].Lines) != 1 || !strings.Contains(rep.Logs[0].Lines[0], "ERROR connect") || strings.Contains(rep.Logs[0].Lines[0], "abc123") {
					t.Errorf("log tail %+v: want the one error line, redacted", rep.Logs)
				}
			}
		})
	}
}

// TestLateFindingsWithinTheGrace: a probe slower than the deadline does not hold the
// enrichment, and what it finds within the grace is handed over afterwards.
func TestLateFindingsWithinTheGrace(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(600 * time.Millisecond):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	cat := mustCatalog(t, catalog.Service{Name: "checkout", Probes: []probe.Spec{{Name: "slow", HTTP: &probe.HTTPSpec{URL: slow.URL}}}})
	for _, tt := range []struct {
		name  string
		grace time.Duration
		late  bool
	}{
		{"within the grace", 3 * time.Second, true},
		{"without a grace", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := enrich.New(enrich.Options{Catalog: cat, Timeout: 200 * time.Millisecond, Grace: tt.grace, Registerer: prometheus.NewRegistry()})
			a := checkoutAlert()
			enr, late := e.Enrich(context.Background(), a, cat.Resolve(a), triaged.Classification{Severity: triaged.P2})
			if len(enr.Probes) != 1 || enr.Probes[0].OK || !strings.Contains(enr.Probes[0].Error, "deadline") {
				t.Fatalf("at the deadline: %+v, want the probe cut off by the deadline", enr.Probes)
			}
			if (late != nil) != tt.late {
				t.Fatalf("late function %v, want %v", late != nil, tt.late)
			}
			if late == nil {
				return
			}
			after, ok := late()
			if !ok || len(after.Probes) != 1 || !after.Probes[0].OK {
				t.Fatalf("after the grace: ok %v, %+v; want the probe's own answer", ok, after.Probes)
			}
			if strings.Contains(strings.Join(after.Observations, "\n"), "still running") {
				t.Errorf("the late enrichment still says the probe is running: %q", after.Observations)
			}
		})
	}
}

// An environment that was only assumed (defaults.environment) does not narrow the deploy lookup:
// a deploy recorded as "prod" is still a recent change of an alert assumed to be in "production".
func TestAssumedEnvironmentDoesNotNarrowDeploys(t *testing.T) {
	a := checkoutAlert()
	delete(a.Labels, "env")
	delete(a.Labels, "environment")
	cat := mustCatalog(t).WithLabelling(triaged.Labelling{ServiceLabels: []string{"service"}, EnvironmentLabels: []string{"env"}, Environment: "production"})
	deploys := &recordingIndex{}
	e := enrich.New(enrich.Options{Catalog: cat, Deploys: deploys, Registerer: prometheus.NewRegistry()})
	svc := cat.Resolve(a)
	if svc.Environment != "production" || !svc.EnvironmentAssumed {
		t.Fatalf("environment %q (assumed %v), want production, assumed", svc.Environment, svc.EnvironmentAssumed)
	}
	e.Enrich(context.Background(), a, svc, triaged.Classification{Severity: triaged.P2})
	if len(deploys.queries) != 1 || deploys.queries[0].Environment != "" || deploys.queries[0].Service != "checkout" {
		t.Errorf("deploy lookups %+v, want one for checkout in any environment", deploys.queries)
	}
}
