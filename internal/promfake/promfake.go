// Package promfake is a Prometheus query API for tests, over real HTTP: it answers
// /api/v1/query and /api/v1/query_range from series the test defines as functions of time,
// and records and checks every request it gets (a query that does not parse as PromQL, or a
// request the API does not have, fails the test).
package promfake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// Series is one series of a query's answer: its labels and its value at a time; a NaN value
// that the test means as "absent" is written Absent.
type Series struct {
	Labels map[string]string
	Value  func(t time.Time) float64
}

// Absent is the value of a series that has no sample at a time.
var Absent = math.Float64frombits(0x7ff00000000000ff)

func isAbsent(f float64) bool { return math.Float64bits(f) == math.Float64bits(Absent) }

// Request is one request the server got.
type Request struct {
	Path  string
	Query string
	// Time is the instant query's time; Start, End and Step the range query's.
	Time, Start, End time.Time
	Step             time.Duration
	Header           http.Header
}

// Server is a fake Prometheus.
type Server struct {
	*httptest.Server
	t      testing.TB
	mu     sync.Mutex
	series map[string][]Series
	reqs   []Request
	// Handle, when set, answers instead (a 500, a hang); it gets the request as recorded.
	Handle func(w http.ResponseWriter, r *http.Request, req Request) bool
}

// New starts a server, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{t: t, series: map[string][]Series{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Set makes query answer with series.
func (s *Server) Set(query string, series ...Series) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.series[query] = series
}

// Requests are the requests got so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.t.Errorf("promfake: a request whose form does not parse: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	req := Request{Path: r.URL.Path, Query: r.Form.Get("query"), Header: r.Header.Clone()}
	var err error
	switch r.URL.Path {
	case "/api/v1/query":
		req.Time, err = parseTime(r.Form.Get("time"))
	case "/api/v1/query_range":
		req.Start, err = parseTime(r.Form.Get("start"))
		if err == nil {
			req.End, err = parseTime(r.Form.Get("end"))
		}
		if err == nil {
			var step float64
			step, err = strconv.ParseFloat(r.Form.Get("step"), 64)
			req.Step = time.Duration(step * float64(time.Second))
			if err == nil && (req.Step <= 0 || req.End.Before(req.Start)) {
				err = fmt.Errorf("bad range %v..%v step %v", req.Start, req.End, req.Step)
			}
		}
	default:
		err = fmt.Errorf("no such endpoint %s", r.URL.Path)
	}
	if err == nil && r.Form.Has("timeout") {
		err = parseTimeout(r.Form.Get("timeout"))
	}
	if err == nil {
		_, err = parser.NewParser(parser.Options{EnableExperimentalFunctions: true}).ParseExpr(req.Query)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	handle := s.Handle
	series := s.series[req.Query]
	s.mu.Unlock()
	if err != nil {
		s.t.Errorf("promfake: bad request %s %q: %v", r.URL.Path, r.Form.Encode(), err)
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "errorType": "bad_data", "error": err.Error()})
		return
	}
	if handle != nil && handle(w, r, req) {
		return
	}
	if req.Path == "/api/v1/query" {
		result := []map[string]any{}
		for _, ser := range series {
			if v := ser.Value(req.Time); !isAbsent(v) {
				result = append(result, map[string]any{"metric": labels(ser), "value": pair(req.Time, v)})
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}})
		return
	}
	result := []map[string]any{}
	for _, ser := range series {
		var values [][2]any
		for t := req.Start; !t.After(req.End); t = t.Add(req.Step) {
			if v := ser.Value(t); !isAbsent(v) {
				values = append(values, pair(t, v))
			}
		}
		if len(values) > 0 {
			result = append(result, map[string]any{"metric": labels(ser), "values": values})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": result}})
}

func labels(s Series) map[string]string {
	if s.Labels == nil {
		return map[string]string{}
	}
	return s.Labels
}

func pair(t time.Time, v float64) [2]any {
	return [2]any{float64(t.UnixMilli()) / 1000, strconv.FormatFloat(v, 'f', -1, 64)}
}

func parseTime(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %v", s, err)
	}
	return time.UnixMilli(int64(math.Round(f * 1000))).UTC(), nil
}

// parseTimeout accepts a timeout as Prometheus 2.x does: seconds as a number, or a Prometheus
// duration ("5s", "1m30s", "800ms"), not Go's "5.5s".
func parseTimeout(s string) error {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return nil
	}
	if _, err := model.ParseDuration(s); err != nil {
		return fmt.Errorf("timeout %q: %v", s, err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
