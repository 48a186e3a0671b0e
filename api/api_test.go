package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/golden"
	"github.com/triaged/triaged/internal/natstest"
	"github.com/triaged/triaged/notify"
)

var names = broker.MustNames("triaged")

var base = time.Date(2026, 11, 26, 14, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

func ptr[T any](v T) *T { return &v }

// store is a real JetStream with the incidents bucket and the reports stream, filled the way
// the triage worker fills them.
type store struct {
	t       *testing.T
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	reports jetstream.Stream
}

func newStore(t *testing.T) *store {
	t.Helper()
	_, js := natstest.Connect(t, natstest.Server(t))
	topo, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions())
	if err != nil {
		t.Fatal(err)
	}
	return &store{t: t, js: js, kv: topo.Incidents, reports: topo.Reports}
}

// groupKey is the incident's key in the bucket; the hash stands for the worker's opaque one.
func groupKey(group string) string {
	sum := sha256.Sum256([]byte(group))
	return "g." + hex.EncodeToString(sum[:8])
}

// put publishes reps on the reports stream, records them in inc with their stream sequences,
// and writes inc and its id index to the bucket.
func (s *store) put(inc *triaged.Incident, reps ...*triaged.Report) {
	s.t.Helper()
	ctx := context.Background()
	for _, rep := range reps {
		rep.SchemaVersion, rep.IncidentID = triaged.ReportSchemaVersion, inc.ID
		data, err := triaged.EncodeReport(rep)
		if err != nil {
			s.t.Fatal(err)
		}
		ack, err := s.js.Publish(ctx, names.ReportSubject(rep.Event, rep.Severity), data)
		if err != nil {
			s.t.Fatal(err)
		}
		inc.Reports = append(inc.Reports, triaged.ReportRef{ID: rep.ID, Event: rep.Event, Severity: rep.Severity, At: rep.TriagedAt, Seq: ack.Sequence})
	}
	inc.Seq = len(inc.Reports)
	data, err := json.Marshal(inc)
	if err != nil {
		s.t.Fatal(err)
	}
	key := groupKey(inc.Key)
	if _, err := s.kv.Put(ctx, key, data); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.kv.Put(ctx, "id."+inc.ID, []byte(key)); err != nil {
		s.t.Fatal(err)
	}
}

func member(fp, status, alertname, instance string, sev triaged.Severity, start time.Time) triaged.Member {
	return triaged.Member{
		Fingerprint: fp, Status: status, Severity: sev, Rule: "default", StartsAt: start,
		Labels: map[string]string{"alertname": alertname, "instance": instance},
	}
}

func report(id string, ev triaged.Event, sev triaged.Severity, headline string, when time.Time) *triaged.Report {
	return &triaged.Report{
		ID: id, Event: ev, Severity: sev, SeverityName: sev.Name(), ResponseTime: sev.ResponseTimeText(),
		Status: triaged.ReportInvestigating, Headline: headline, Summary: headline,
		AlertName: strings.Fields(headline)[3], Service: strings.Fields(headline)[5], ServiceFrom: "label service",
		StartedAt: when, ReceivedAt: when, TriagedAt: when,
	}
}

// The fixtures, newest opening first: the order the list answers in.
const (
	idTargetDown = "20261126-targetdown-3f9a1c" // open P2, two reports
	idSlowAPI    = "20261126-slowapi-7b20de"    // open P3, opened with TargetDown, updated earlier
	idErrors     = "20261126-higherrorrate-0c1d2e"
	idFlapping   = "20261126-diskfull-99aa00"
	idSearch     = "20261126-searchlag-1234ab"
)

var order = []string{idTargetDown, idSlowAPI, idFlapping, idErrors, idSearch}

// fill writes the fixtures, the most recently updated last, as the worker would.
func (s *store) fill() {
	s.put(&triaged.Incident{
		ID: idSearch, Key: "search", Receiver: "team-search", GroupKey: `{}:{alertname="SearchLag"}`,
		GroupLabels: map[string]string{"alertname": "SearchLag"}, State: triaged.IncidentOpen, Severity: triaged.P4,
		Service:  triaged.Service{Name: "search", Environment: "production"},
		OpenedAt: at(-3 * time.Hour), UpdatedAt: at(-3 * time.Hour),
		Members: []triaged.Member{member("a1", triaged.StatusFiring, "SearchLag", "search-1", triaged.P4, at(-3*time.Hour))},
	})
	end := at(-time.Hour)
	s.put(&triaged.Incident{
		ID: idErrors, Key: "errors", Receiver: "team-checkout", GroupKey: `{}:{alertname="HighErrorRate"}`,
		GroupLabels: map[string]string{"alertname": "HighErrorRate"}, State: triaged.IncidentResolved, Severity: triaged.P1,
		Service:  triaged.Service{Name: "checkout", Environment: "production"},
		OpenedAt: at(-2 * time.Hour), ResolvedAt: &end, UpdatedAt: end,
		Members: []triaged.Member{func() triaged.Member {
			m := member("b1", triaged.StatusResolved, "HighErrorRate", "checkout-1", triaged.P1, at(-2*time.Hour))
			m.EndsAt = &end
			return m
		}()},
		Episodes: []triaged.Episode{{Start: at(-2 * time.Hour), End: &end}},
	},
		report("r-errors-1", triaged.EventOpened, triaged.P1, "P1 CRITICAL · HighErrorRate · checkout (production)", at(-2*time.Hour)),
		report("r-errors-2", triaged.EventResolved, triaged.P1, "P1 CRITICAL · HighErrorRate · checkout (production) · resolved", end),
	)
	s.put(&triaged.Incident{
		ID: idFlapping, Key: "disk", Receiver: "team-checkout", GroupKey: `{}:{service="checkout"}`,
		GroupLabels: map[string]string{"service": "checkout"}, State: triaged.IncidentOpen, Severity: triaged.P3,
		Service:  triaged.Service{Name: "checkout", Environment: "production"},
		OpenedAt: at(-30 * time.Minute), UpdatedAt: at(-time.Minute), Flapping: true, FlapEdges: 6,
		Members: []triaged.Member{member("c1", triaged.StatusFiring, "DiskFull", "db-1", triaged.P3, at(-30*time.Minute)),
			member("c2", triaged.StatusResolved, "DiskFull", "db-2", triaged.P3, at(-30*time.Minute))},
	}, report("r-disk-1", triaged.EventOpened, triaged.P3, "P3 MEDIUM · DiskFull · checkout (production)", at(-30*time.Minute)))
	s.put(&triaged.Incident{
		ID: idSlowAPI, Key: "slow", Receiver: "team-payments", GroupKey: `{}:{alertname="SlowAPI"}`,
		GroupLabels: map[string]string{"alertname": "SlowAPI"}, State: triaged.IncidentOpen, Severity: triaged.P3,
		Service:  triaged.Service{Name: "payments-api", Environment: "staging"},
		OpenedAt: at(0), UpdatedAt: at(time.Minute),
		Members: []triaged.Member{member("d1", triaged.StatusFiring, "SlowAPI", "api-1", triaged.P3, at(0))},
	}, report("r-slow-1", triaged.EventOpened, triaged.P3, "P3 MEDIUM · SlowAPI · payments-api (staging)", at(0)))
	s.put(&triaged.Incident{
		ID: idTargetDown, Key: "targetdown", Receiver: "team-payments", GroupKey: `{}:{alertname="TargetDown"}`,
		GroupLabels: map[string]string{"alertname": "TargetDown"}, State: triaged.IncidentOpen, Severity: triaged.P2,
		Service:  triaged.Service{Name: "payments-api", Environment: "staging", From: "label service"},
		OpenedAt: at(0), UpdatedAt: at(10 * time.Minute), LastReportAt: at(10 * time.Minute),
		Members: []triaged.Member{
			member("e1", triaged.StatusFiring, "TargetDown", "api-1", triaged.P2, at(0)),
			member("e2", triaged.StatusFiring, "TargetDown", "api-2", triaged.P2, at(0)),
			func() triaged.Member {
				m := member("e3", triaged.StatusResolved, "TargetDown", "api-3", triaged.P2, at(0))
				m.EndsAt = ptr(at(8 * time.Minute))
				return m
			}(),
		},
		Episodes: []triaged.Episode{{Start: at(0)}},
	},
		report("r-td-1", triaged.EventOpened, triaged.P2, "P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing", at(0)),
		func() *triaged.Report {
			r := report("r-td-2", triaged.EventUpdated, triaged.P2, "P2 HIGH · TargetDown · payments-api (staging) · 2 alerts firing", at(10*time.Minute))
			r.Changes = []string{"1 of 3 recovered, 2 still firing"}
			r.AlertsFiring, r.AlertsResolved = 2, 1
			return r
		}(),
	)
}

func serve(h http.Handler, method, target string) *http.Response {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
	return w.Result()
}

func body(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func getList(t *testing.T, h http.Handler, query string) api.ListResponse {
	t.Helper()
	res := serve(h, http.MethodGet, "/api/v1/incidents"+query)
	b := body(t, res)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s: %s", query, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	var l api.ListResponse
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func ids(l api.ListResponse) []string {
	var out []string
	for _, s := range l.Incidents {
		out = append(out, s.ID)
	}
	return out
}

func indented(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestList(t *testing.T) {
	s := newStore(t)
	s.fill()
	// Neither another kind of key nor an undecodable state breaks the list.
	if _, err := s.kv.Put(context.Background(), "g.bad", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.kv.Put(context.Background(), "meta.version", []byte("1")); err != nil {
		t.Fatal(err)
	}
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports})

	res := serve(h, http.MethodGet, "/api/v1/incidents")
	golden.Check(t, "testdata/list.golden.json", indented(t, body(t, res)))

	for _, tc := range []struct{ query, want string }{
		{"", strings.Join(order, " ")},
		{"?state=open", strings.Join([]string{idTargetDown, idSlowAPI, idFlapping, idSearch}, " ")},
		{"?state=resolved", idErrors},
		{"?severity=P1", idErrors},
		{"?severity=p3,P4", strings.Join([]string{idSlowAPI, idFlapping, idSearch}, " ")},
		{"?severity=P2&severity=P4", strings.Join([]string{idTargetDown, idSearch}, " ")},
		{"?service=checkout", strings.Join([]string{idFlapping, idErrors}, " ")},
		{"?service=checkout&state=open&severity=P3", idFlapping},
		{"?service=Checkout", ""}, // exact
		{"?offset=3", strings.Join(order[3:], " ")},
		{"?offset=9", ""},
	} {
		l := getList(t, h, tc.query)
		if got := strings.Join(ids(l), " "); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.query, got, tc.want)
		}
		if l.Next != "" || l.Capped || l.Incidents == nil {
			t.Errorf("%q: next %q, capped %v, incidents %v", tc.query, l.Next, l.Capped, l.Incidents)
		}
	}
}

// TestListPages: following next visits every incident once, in order, whatever the page size,
// and an incident opened between two pages does not shift the pages after it.
func TestListPages(t *testing.T) {
	s := newStore(t)
	s.fill()
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports})
	follow := func(limit int, between func()) []string {
		var got []string
		query := "?limit=" + strconv.Itoa(limit)
		for pages := 0; ; pages++ {
			if pages > len(order) {
				t.Fatalf("limit %d: more pages than incidents", limit)
			}
			l := getList(t, h, query)
			if len(l.Incidents) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(l.Incidents))
			}
			got = append(got, ids(l)...)
			if l.Next == "" {
				return got
			}
			between()
			query = "?limit=" + strconv.Itoa(limit) + "&page=" + l.Next
		}
	}
	for limit := 1; limit <= len(order)+1; limit++ {
		if got := follow(limit, func() {}); !slices.Equal(got, order) {
			t.Errorf("limit %d: pages give %v, want %v", limit, got, order)
		}
	}
	newer := "20261126-new-000001"
	got := follow(2, func() {
		s.put(&triaged.Incident{ID: newer, Key: "new", State: triaged.IncidentOpen, Severity: triaged.P1, OpenedAt: at(time.Hour), UpdatedAt: at(time.Hour)})
	})
	if !slices.Equal(got, order) {
		t.Errorf("with an incident opened between pages: %v, want %v", got, order)
	}

	l := getList(t, h, "?offset=1&limit=2")
	if got := ids(l); !slices.Equal(got, order[:2]) {
		t.Errorf("offset 1 limit 2: %v, want %v (after the newer incident)", got, order[:2])
	}
	if got := ids(getList(t, h, "?limit=2&page="+l.Next)); !slices.Equal(got, order[2:4]) {
		t.Errorf("after offset 1 limit 2: %v, want %v", got, order[2:4])
	}
}

// TestListCapped: a request reads at most MaxScan incidents, the most recently updated, and
// says so.
func TestListCapped(t *testing.T) {
	s := newStore(t)
	s.fill() // idSlowAPI and idTargetDown are written last
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports, MaxScan: 2})
	l := getList(t, h, "")
	if got := ids(l); !slices.Equal(got, []string{idTargetDown, idSlowAPI}) {
		t.Errorf("capped list: %v", got)
	}
	if !l.Capped || len(l.Warnings) != 1 || !strings.Contains(l.Warnings[0], "holds 5 incidents; only the 2 most recently updated were read") {
		t.Errorf("capped %v, warnings %q", l.Capped, l.Warnings)
	}
	empty := api.NewIncidentsHandler(api.Options{Incidents: newStore(t).kv, Reports: s.reports})
	if l := getList(t, empty, ""); len(l.Incidents) != 0 || l.Capped || l.Incidents == nil {
		t.Errorf("empty bucket: %+v", l)
	}
}

// TestRefused: a bad request gets its status and a one-line JSON reason naming what is wrong.
func TestRefused(t *testing.T) {
	s := newStore(t)
	s.fill()
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports})
	for _, tc := range []struct {
		method, target string
		code           int
		reason         string
	}{
		{"GET", "/api/v1/incidents?state=closed", 400, `parameter state: "closed" is not a state: want open or resolved`},
		{"GET", "/api/v1/incidents?severity=P1,P5", 400, `parameter severity: invalid severity "P5": want one of P1, P2, P3, P4`},
		{"GET", "/api/v1/incidents?limit=0", 400, `parameter limit: "0" is not a number from 1 to 500`},
		{"GET", "/api/v1/incidents?limit=501", 400, `parameter limit: "501" is not a number from 1 to 500`},
		{"GET", "/api/v1/incidents?limit=ten", 400, `parameter limit: "ten" is not a number from 1 to 500`},
		{"GET", "/api/v1/incidents?offset=-1", 400, `parameter offset: "-1" is not a number from 0 up`},
		{"GET", "/api/v1/incidents?page=xyz", 400, `parameter page: "xyz" is not a page token of this API`},
		{"GET", "/api/v1/incidents?page=MSB4&offset=2", 400, `parameter page: give page or offset, not both`},
		{"GET", "/api/v1/incidents?sevrity=P1", 400, `parameter sevrity: unknown parameter: want one of state, severity, service, limit, page or offset`},
		{"GET", "/api/v1/incidents?state=open&state=resolved", 400, `parameter state: given 2 times: give it once`},
		{"GET", "/api/v1/incidents/no-such-incident", 404, `no incident "no-such-incident"`},
		{"GET", "/api/v1/incidents/no-such-incident/postmortem.md", 501, `no postmortem renderer`},
		{"GET", "/api/v1/incidents/a%20b", 400, `incident id "a b": ' ' is not allowed, want letters, digits, '.', '_' or '-'`},
		{"GET", "/api/v1/incidents/a%2Fb", 400, `incident id "a/b": '/' is not allowed`},
		{"GET", "/api/v1/incidents/.a", 400, `incident id ".a": '.' may not start or end it`},
		{"GET", "/api/v1/incidents/a..b", 400, `incident id "a..b": '.' may not start or end it or follow another '.'`},
		{"GET", "/api/v1/incidents/" + strings.Repeat("x", 129), 400, `want 1 to 128 characters`},
		{"GET", "/api/v1/incidents/" + idTargetDown + "/members", 404, `no such endpoint /api/v1/incidents/` + idTargetDown + `/members`},
		{"GET", "/api/v1/incidents/", 404, `no such endpoint /api/v1/incidents/`},
		{"GET", "/api/v1/incidents/" + idTargetDown + "/postmortem.md", 501, `postmortem.md is not available: this triaged has no postmortem renderer`},
		{"GET", "/api/v1/incidents/" + idTargetDown + "/report.md", 501, `report.md is not available: this triaged has no report renderer`},
		{"POST", "/api/v1/incidents", 405, `method POST not allowed: the incidents API is read-only, use GET`},
		{"DELETE", "/api/v1/incidents/" + idTargetDown, 405, `method DELETE not allowed`},
	} {
		res := serve(h, tc.method, tc.target)
		b := body(t, res)
		var e struct{ Status, Error string }
		if err := json.Unmarshal(b, &e); err != nil || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: not a JSON error: %s %s", tc.method, tc.target, res.Header.Get("Content-Type"), b)
			continue
		}
		if res.StatusCode != tc.code || e.Status != "error" || !strings.Contains(e.Error, tc.reason) || strings.Contains(e.Error, "\n") {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.target, res.StatusCode, e.Error, tc.code, tc.reason)
		}
		if tc.code == 405 && res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.target, res.Header.Get("Allow"))
		}
	}
}

func TestIncident(t *testing.T) {
	s := newStore(t)
	s.fill()
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports})
	res := serve(h, http.MethodGet, "/api/v1/incidents/"+idTargetDown)
	b := body(t, res)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	golden.Check(t, "testdata/incident.golden.json", indented(t, b))

	var got api.IncidentResponse
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var inc triaged.Incident
	if err := json.Unmarshal(got.Incident, &inc); err != nil || inc.ID != idTargetDown || len(inc.Members) != 3 {
		t.Fatalf("incident: %v %+v", err, inc)
	}
	if len(got.Reports) != 2 {
		t.Fatalf("reports: %+v", got.Reports)
	}
	for i, want := range []string{"r-td-1", "r-td-2"} {
		e := got.Reports[i]
		rep, err := triaged.DecodeReport(e.Report)
		if err != nil || e.ID != want || rep.ID != want || e.Expired || rep.IncidentID != idTargetDown || e.Seq != inc.Reports[i].Seq {
			t.Errorf("report %d: %+v, %v %+v", i, e.ReportRef, err, rep)
		}
	}
}

// TestExpiredReports: a report that retention removed from the stream is listed as expired,
// report.md of an incident whose latest report expired is 410 Gone, and the postmortem is
// written from the reports that are left.
func TestExpiredReports(t *testing.T) {
	s := newStore(t)
	s.fill()
	ctx := context.Background()
	inc := incident(t, s, idErrors)
	if err := s.reports.DeleteMsg(ctx, inc.Reports[1].Seq); err != nil {
		t.Fatal(err)
	}
	pm := &fakePostmortems{}
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports, Renderer: renderer(t), Postmortems: pm})

	res := serve(h, http.MethodGet, "/api/v1/incidents/"+idErrors)
	var got api.IncidentResponse
	if err := json.Unmarshal(body(t, res), &got); err != nil || res.StatusCode != 200 {
		t.Fatalf("%d %v", res.StatusCode, err)
	}
	if len(got.Reports) != 2 || got.Reports[0].Expired || got.Reports[0].Report == nil ||
		!got.Reports[1].Expired || got.Reports[1].Report != nil || got.Reports[1].ID != "r-errors-2" {
		t.Errorf("reports: %+v", got.Reports)
	}

	res = serve(h, http.MethodGet, "/api/v1/incidents/"+idErrors+"/report.md")
	if b := body(t, res); res.StatusCode != http.StatusGone || !strings.Contains(string(b), `the latest report of incident \"`+idErrors+`\", r-errors-2, has expired from the reports stream`) {
		t.Errorf("report.md: %d %s", res.StatusCode, b)
	}

	res = serve(h, http.MethodGet, "/api/v1/incidents/"+idErrors+"/postmortem.md")
	if b := body(t, res); res.StatusCode != 200 || string(b) != "# Postmortem "+idErrors+"\nr-errors-1\n" {
		t.Errorf("postmortem.md: %d %s", res.StatusCode, b)
	}
}

func incident(t *testing.T, s *store, id string) *triaged.Incident {
	t.Helper()
	ctx := context.Background()
	key, err := s.kv.Get(ctx, "id."+id)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.kv.Get(ctx, string(key.Value()))
	if err != nil {
		t.Fatal(err)
	}
	var inc triaged.Incident
	if err := json.Unmarshal(e.Value(), &inc); err != nil {
		t.Fatal(err)
	}
	return &inc
}

func renderer(t *testing.T) *notify.Renderer {
	t.Helper()
	r, err := notify.NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fakePostmortems writes the incident's id and its reports' ids.
type fakePostmortems struct{ err error }

func (f *fakePostmortems) Postmortem(inc *triaged.Incident, reps []triaged.Report) ([]byte, error) {
	if f.err != nil {
		return nil, f.err
	}
	var b strings.Builder
	b.WriteString("# Postmortem " + inc.ID + "\n")
	for _, r := range reps {
		b.WriteString(r.ID + "\n")
	}
	return []byte(b.String()), nil
}

func TestMarkdown(t *testing.T) {
	s := newStore(t)
	s.fill()
	r := renderer(t)
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports, Renderer: r, Postmortems: &fakePostmortems{}})

	res := serve(h, http.MethodGet, "/api/v1/incidents/"+idTargetDown+"/report.md")
	b := body(t, res)
	msg, err := s.reports.GetMsg(context.Background(), incident(t, s, idTargetDown).Reports[1].Seq)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := triaged.DecodeReport(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.Markdown(rep)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/markdown; charset=utf-8" || !bytes.Equal(b, want) {
		t.Errorf("report.md: %d %s:\n%s\nwant the latest report, r-td-2:\n%s", res.StatusCode, res.Header.Get("Content-Type"), b, want)
	}

	res = serve(h, http.MethodHead, "/api/v1/incidents/"+idTargetDown+"/postmortem.md")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/markdown; charset=utf-8" {
		t.Errorf("HEAD postmortem.md: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res = serve(h, http.MethodGet, "/api/v1/incidents/"+idTargetDown+"/postmortem.md")
	if b := body(t, res); res.StatusCode != 200 || string(b) != "# Postmortem "+idTargetDown+"\nr-td-1\nr-td-2\n" {
		t.Errorf("postmortem.md: %d %s", res.StatusCode, b)
	}

	failing := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports, Postmortems: &fakePostmortems{err: errors.New("template: no such field")}})
	res = serve(failing, http.MethodGet, "/api/v1/incidents/"+idTargetDown+"/postmortem.md")
	if b := body(t, res); res.StatusCode != 500 || !strings.Contains(string(b), `render the postmortem of incident \"`+idTargetDown+`\": template: no such field`) {
		t.Errorf("failing postmortem: %d %s", res.StatusCode, b)
	}

	// An incident with no report yet has no report.md.
	s.put(&triaged.Incident{ID: "20261126-quiet-000002", Key: "quiet", State: triaged.IncidentOpen, Severity: triaged.P4, OpenedAt: at(0), UpdatedAt: at(0)})
	res = serve(h, http.MethodGet, "/api/v1/incidents/20261126-quiet-000002/report.md")
	if b := body(t, res); res.StatusCode != 404 || !strings.Contains(string(b), `incident \"20261126-quiet-000002\" has no report yet`) {
		t.Errorf("report.md without reports: %d %s", res.StatusCode, b)
	}
}

// TestSuperseded: when a group opens a new incident, its state replaces the old incident's; the
// old id is then unknown, and says why.
func TestSuperseded(t *testing.T) {
	s := newStore(t)
	s.fill()
	next := incident(t, s, idErrors)
	old := next.ID
	next.ID, next.Reports = "20261127-higherrorrate-5e6f70", nil
	s.put(next) // same group key
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports})
	res := serve(h, http.MethodGet, "/api/v1/incidents/"+old)
	if b := body(t, res); res.StatusCode != 404 || !strings.Contains(string(b), `its group's state now belongs to the later incident \"20261127-higherrorrate-5e6f70\"`) {
		t.Errorf("superseded: %d %s", res.StatusCode, b)
	}
	if l := getList(t, h, "?service=checkout&state=resolved"); !slices.Equal(ids(l), []string{"20261127-higherrorrate-5e6f70"}) {
		t.Errorf("list after supersede: %v", ids(l))
	}

	// The worker archives a replaced incident under its own id: then it stays readable.
	archived := incident(t, s, idErrors)
	archived.ID = old
	data, err := json.Marshal(archived)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.kv.Put(context.Background(), triaged.ArchivedIncidentKey(old), data); err != nil {
		t.Fatal(err)
	}
	if _, err := s.kv.Put(context.Background(), triaged.IncidentIndexKey(old), []byte(triaged.ArchivedIncidentKey(old))); err != nil {
		t.Fatal(err)
	}
	if res := serve(h, http.MethodGet, "/api/v1/incidents/"+old); res.StatusCode != 200 || !strings.Contains(string(body(t, res)), old) {
		t.Errorf("archived incident: %d", res.StatusCode)
	}
}

// TestTimeout: a request that runs out of time is a 503 that names the limit, not a hang.
func TestTimeout(t *testing.T) {
	s := newStore(t)
	s.fill()
	h := api.NewIncidentsHandler(api.Options{Incidents: s.kv, Reports: s.reports, Timeout: time.Nanosecond})
	for _, target := range []string{"/api/v1/incidents", "/api/v1/incidents/" + idTargetDown} {
		res := serve(h, http.MethodGet, target)
		if b := body(t, res); res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "deadline exceeded") {
			t.Errorf("%s: %d %s", target, res.StatusCode, b)
		}
	}
}
