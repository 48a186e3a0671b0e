// Package api serves the incidents API: read-only JSON and Markdown views of the incidents kept
// in the incidents bucket, with their reports from the reports stream; and the rules API
// (rules.go): the rules in force, and explanations of alerts by them or by a candidate.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/httpin"
)

// Bucket is what the API reads of the incidents key-value bucket; jetstream.KeyValue has it.
type Bucket interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	ListKeysFiltered(ctx context.Context, filters ...string) (jetstream.KeyLister, error)
}

// ReportStream is what the API reads of the reports stream; jetstream.Stream has it.
type ReportStream interface {
	GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error)
}

// Renderer renders a report as the Markdown incident report, as the sinks print it.
type Renderer interface {
	Markdown(rep *triaged.Report) ([]byte, error)
}

// Postmortems renders the postmortem skeleton of an incident from its reports, oldest first.
type Postmortems interface {
	Postmortem(inc *triaged.Incident, reports []triaged.Report) ([]byte, error)
}

// Limits of the API.
const (
	DefaultLimit = 50  // incidents per page when the request does not say
	MaxLimit     = 500 // the largest limit a request may ask for
	// DefaultMaxScan is how many incidents one list request reads at most: the most recently
	// updated ones. Listing filters and sorts what it read, so this bounds its time and memory.
	DefaultMaxScan = 5000
	DefaultTimeout = 10 * time.Second
)

// Options configures the incidents API.
type Options struct {
	Incidents Bucket       // required
	Reports   ReportStream // required
	// Renderer renders report.md and Postmortems postmortem.md; without one, the endpoint
	// answers 501 Not Implemented.
	Renderer    Renderer
	Postmortems Postmortems
	MaxScan     int           // default DefaultMaxScan
	Timeout     time.Duration // bounds each request; default DefaultTimeout
	Logger      *slog.Logger

	// Graphs is the graphs bucket, which the graph endpoint reads; without it, that answers 501.
	Graphs Bucket
}

type handler struct {
	opts Options
	mux  *http.ServeMux
}

// NewIncidentsHandler returns the handler of GET /api/v1/incidents and everything under
// /api/v1/incidents/. It answers JSON, errors included ({"status":"error","error":"..."}),
// except the Markdown documents and the PNG graphs: 400 for a bad parameter, id or graph name,
// naming it; 404 for an unknown incident, graph or path; 405 for any method but GET and HEAD;
// 410 for a report that retention removed from the reports stream; 503 when NATS did not
// answer, so a retry may succeed.
func NewIncidentsHandler(o Options) http.Handler {
	if o.MaxScan <= 0 {
		o.MaxScan = DefaultMaxScan
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{opts: o, mux: http.NewServeMux()}
	// Method-less patterns: ServeHTTP answers other methods itself, in JSON.
	h.mux.Handle("/api/v1/incidents", h.endpoint(h.list))
	h.mux.Handle("/api/v1/incidents/{id}", h.endpoint(h.incident))
	h.mux.Handle("/api/v1/incidents/{id}/report.md", h.endpoint(h.reportMarkdown))
	h.mux.Handle("/api/v1/incidents/{id}/postmortem.md", h.endpoint(h.postmortemMarkdown))
	h.mux.Handle("/api/v1/incidents/{id}/graphs/{file}", h.endpoint(h.graph))
	h.mux.Handle("/api/v1/incidents/", h.endpoint(func(_ http.ResponseWriter, r *http.Request) error {
		return httpin.Errorf(http.StatusNotFound, "no such endpoint %s: want /api/v1/incidents, /api/v1/incidents/{id}, or {id}/report.md, {id}/postmortem.md or {id}/graphs/{name}.png under it", r.URL.Path)
	}))
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.fail(w, r, httpin.Errorf(http.StatusMethodNotAllowed, "method %s not allowed: the incidents API is read-only, use GET", r.Method))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	h.mux.ServeHTTP(w, r.WithContext(ctx))
}

// endpoint adapts a handler that returns its error, so every failure is answered and logged in
// one place.
func (h *handler) endpoint(f func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// fail answers err as {"status":"error","error":"..."} with its status: an *httpin.Error's, or
// 503 for a NATS request that timed out, or 500.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *httpin.Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, context.DeadlineExceeded):
		e = httpin.Errorf(http.StatusServiceUnavailable, "%v (the request's limit is %s)", err, h.opts.Timeout)
	default:
		e = httpin.Errorf(http.StatusInternalServerError, "%v", err)
	}
	level := slog.LevelDebug
	if e.Code >= 500 {
		level = slog.LevelError
	}
	h.opts.Logger.Log(r.Context(), level, "incidents API request failed", "path", r.URL.Path, "code", e.Code, "err", e.Msg)
	body, _ := json.Marshal(struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}{"error", e.Msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Code)
	_, _ = w.Write(append(body, '\n'))
}

// writeJSON answers v with 200. It encodes before writing, so an encoding failure can still be
// answered as a 500.
func writeJSON(w http.ResponseWriter, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "< 15 min" and links read as written, as on the reports stream
	if err := enc.Encode(v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
	return nil
}

func writeMarkdown(w http.ResponseWriter, md []byte) {
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(md)
}

// unavailable classifies a failed NATS read: the client may retry it.
func unavailable(what string, err error) error {
	return httpin.Errorf(http.StatusServiceUnavailable, "%s: %v", what, err)
}
