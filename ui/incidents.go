package ui

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// PageSize is how many incidents one page of the incidents page shows.
const PageSize = 50

// Filter is what the incidents page shows: every field empty shows every incident.
type Filter struct {
	State    string // triaged.IncidentOpen, IncidentResolved or ""
	Severity string // "P1".."P4" or ""
	Service  string
	Team     string
}

func (f Filter) matches(s *Summary) bool {
	return (f.State == "" || s.State == f.State) && (f.Severity == "" || s.Severity == f.Severity) &&
		(f.Service == "" || s.Service == f.Service) && (f.Team == "" || s.Team == f.Team)
}

// query is one page of the filtered incidents, newest first.
type query struct {
	Rows    []Summary
	Links   [][]ChatLink // each row's chat messages
	Matched int          // incidents that match the filter, on every page
	Open    map[string]int
	Indexed int
	Evicted int
	Loaded  bool
}

// Query returns the incidents that match f from offset on, at most limit, with the counts the
// page shows above them.
func (x *Index) Query(f Filter, offset, limit int) query {
	x.mu.Lock()
	defer x.mu.Unlock()
	q := query{Open: map[string]int{}, Indexed: len(x.byID), Evicted: x.evicted, Loaded: x.loaded}
	for _, s := range x.sortedLocked() {
		if s.Open() {
			q.Open[s.Severity]++
		}
		if !f.matches(s) {
			continue
		}
		if q.Matched >= offset && len(q.Rows) < limit {
			q.Rows = append(q.Rows, *s)
			q.Links = append(q.Links, x.linksLocked(s.ID))
		}
		q.Matched++
	}
	q.Indexed = len(x.sorted)
	return q
}

// OpenCounts is the number of open incidents per severity.
func (x *Index) OpenCounts() map[string]int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return maps.Clone(x.open)
}

// severities in the order the page lists them; "P?" is an incident without a valid severity.
var severities = []string{"P1", "P2", "P3", "P4"}

// countsTitle is the incidents page's title: the open incidents per severity, so that a
// browser tab says at a glance what is open: "(2 P1 · 1 P3) triaged".
func countsTitle(open map[string]int) string {
	var parts []string
	for _, sev := range severities {
		if n := open[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(parts) == 0 {
		return "triaged"
	}
	return "(" + strings.Join(parts, " · ") + ") triaged"
}

// parseFilter reads the page's query parameters; a wrong value is named in the error.
func parseFilter(v url.Values) (Filter, int, error) {
	f := Filter{Service: strings.TrimSpace(v.Get("service")), Team: strings.TrimSpace(v.Get("team"))}
	switch s := v.Get("state"); s {
	case "", triaged.IncidentOpen, triaged.IncidentResolved:
		f.State = s
	default:
		return f, 1, fmt.Errorf("state %q is not a state: want %s, %s or nothing (any)", s, triaged.IncidentOpen, triaged.IncidentResolved)
	}
	if s := v.Get("severity"); s != "" {
		sev, err := triaged.ParseSeverity(s)
		if err != nil {
			return f, 1, fmt.Errorf("severity: %v", err)
		}
		f.Severity = sev.String()
	}
	page := 1
	if s := v.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return f, 1, fmt.Errorf("page %q is not a page number: want 1 or more", s)
		}
		page = n
	}
	return f, page, nil
}

// incidentRow is a row of the incidents page.
type incidentRow struct {
	Summary
	Age   string
	Links []ChatLink
}

type incidentsPage struct {
	Filter     Filter
	Error      string
	Available  bool // the page has an index to show
	Rows       []incidentRow
	Matched    int
	Page       int
	Pages      int
	First      int // the number of the first row shown
	Prev, Next string
	Open       []sevCount
	Indexed    int
	Evicted    int
	Max        int
	Loaded     bool
	Live       bool
	Severities []string
}

type sevCount struct {
	Severity string
	Count    int
}

func (u *UI) incidents(w http.ResponseWriter, r *http.Request) {
	f, page, err := parseFilter(r.URL.Query())
	data := incidentsPage{Filter: f, Page: page, Severities: severities, Live: u.opts.Events != nil}
	if err != nil {
		data.Error = err.Error()
		u.renderCode(w, r, http.StatusBadRequest, "incidents", "triaged: bad filter", data)
		return
	}
	x := u.opts.Index
	if x == nil {
		u.render(w, r, "incidents", "triaged", data)
		return
	}
	q := x.Query(f, (page-1)*PageSize, PageSize)
	data.Available, data.Matched, data.Indexed, data.Evicted, data.Loaded, data.Max = true, q.Matched, q.Indexed, q.Evicted, q.Loaded, x.max
	data.Pages = max(1, (q.Matched+PageSize-1)/PageSize)
	data.First = (page-1)*PageSize + 1
	now := u.opts.Now()
	for i, s := range q.Rows {
		data.Rows = append(data.Rows, incidentRow{Summary: s, Age: age(now, s.OpenedAt), Links: q.Links[i]})
	}
	for _, sev := range severities {
		if n := q.Open[sev]; n > 0 {
			data.Open = append(data.Open, sevCount{sev, n})
		}
	}
	if page > 1 {
		data.Prev = pageURL(r.URL.Query(), page-1)
	}
	if page < data.Pages {
		data.Next = pageURL(r.URL.Query(), page+1)
	}
	u.render(w, r, "incidents", countsTitle(q.Open), data)
}

func pageURL(v url.Values, page int) string {
	v = firstValues(v)
	v.Set("page", strconv.Itoa(page))
	return "/?" + v.Encode()
}

func firstValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if vs[0] != "" {
			out[k] = vs[:1]
		}
	}
	return out
}

// age is how long ago t was, for people: "42m", "3h5m", "26h".
func age(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return triaged.HumanDuration(d)
}

// renderCode renders a page with status code instead of 200: a bad filter or an unknown incident
// is still shown as a page, with the problem named.
func (u *UI) renderCode(w http.ResponseWriter, r *http.Request, code int, name, title string, data any) {
	u.render(&statusWriter{ResponseWriter: w, code: code}, r, name, title, data)
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote && code == http.StatusOK {
		code = s.code
	}
	s.wrote = true
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(s.code)
	}
	return s.ResponseWriter.Write(b)
}
