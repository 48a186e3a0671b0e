package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged/internal/httpin"
)

// HandlerOptions configures the deploy events handler.
type HandlerOptions struct {
	MaxBodyBytes   int64         // larger bodies get 413; default MaxEventSize
	PublishTimeout time.Duration // after it the request gets 503; default 10s
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
}

type handler struct {
	rec      *Recorder
	opts     HandlerOptions
	requests *prometheus.CounterVec
	refused  *prometheus.CounterVec
}

// NewHandler returns the handler of POST /api/v1/deploys. It answers 201 Created with the
// stored event when the event is new and 200 OK with it when the stream already had it (a CI
// retry), so a client can tell the two apart and both are successes. Invalid events get 400
// naming the field at fault; 405, 413 and 415 are for the wrong method, size and content type;
// 503 means JetStream did not store the event and a retry may succeed.
func NewHandler(rec *Recorder, o HandlerOptions) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = MaxEventSize
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{rec: rec, opts: o}
	h.requests = promauto.With(o.Registerer).NewCounterVec(prometheus.CounterOpts{
		Name: "triaged_deploy_requests_total",
		Help: "Deploy event requests (POST /api/v1/deploys), by HTTP status code of the reply.",
	}, []string{"code"})
	h.refused = refusedCounter(o.Registerer)
	for _, code := range []int{http.StatusOK, http.StatusCreated, http.StatusBadRequest, http.StatusMethodNotAllowed,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusServiceUnavailable} {
		h.requests.WithLabelValues(strconv.Itoa(code))
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, dup, err := h.serve(w, r)
	if err != nil {
		he := httpin.Reply(w, err)
		level := slog.LevelInfo
		if he.Code >= 500 {
			level = slog.LevelError
		}
		h.opts.Logger.Log(r.Context(), level, "deploy event rejected", "code", he.Code, "remote", r.RemoteAddr, "err", he.Msg)
		h.requests.WithLabelValues(strconv.Itoa(he.Code)).Inc()
		return
	}
	code := http.StatusCreated
	if dup {
		code = http.StatusOK
	}
	h.opts.Logger.Info("deploy recorded", "service", e.Service, "environment", e.Environment, "version", e.Version,
		"status", e.Status, "time", e.Time, "duplicate", dup)
	h.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	body, _ := json.Marshal(&e) // an Event always encodes
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) (Event, bool, error) {
	var body bytes.Buffer
	if err := httpin.ReadJSON(w, r, h.opts.MaxBodyBytes, &body, "a deploy event"); err != nil {
		return Event{}, false, err
	}
	e, err := DecodeEvent(body.Bytes())
	if err != nil {
		return Event{}, false, h.refuse(err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.PublishTimeout)
	defer cancel()
	stored, dup, err := h.rec.Record(ctx, e)
	switch {
	case errors.As(err, new(*FieldError)):
		return Event{}, false, h.refuse(err)
	case err != nil:
		return Event{}, false, httpin.Errorf(http.StatusServiceUnavailable, "persist deploy event: %v", err)
	}
	return stored, dup, nil
}

// refuse counts an invalid event and makes its 400: the field at fault and why.
func (h *handler) refuse(err error) error {
	h.refused.WithLabelValues(SourceHTTP, refusedReason(err)).Inc()
	return httpin.Errorf(http.StatusBadRequest, "%v", err)
}

// Reasons a deploy event is refused at intake, the reason label of triaged_deploys_refused_total.
const (
	RefusedInvalid = "invalid" // a field is wrong: see the error
	RefusedFuture  = "future"  // its time is beyond the clock skew (ErrFuture)
)

func refusedReason(err error) string {
	if errors.Is(err, ErrFuture) {
		return RefusedFuture
	}
	return RefusedInvalid
}

// refusedCounter is triaged_deploys_refused_total, which the handler (source http) and the index
// (source nats, and http for an event the index refuses) share on one registry.
func refusedCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "triaged_deploys_refused_total",
		Help: "Deploy events refused at intake, by source (http: answered 400 by POST /api/v1/deploys; nats: published directly and skipped by this replica's index after it caught up) and reason (invalid; future: the time is beyond the allowed clock skew).",
	}, []string{"source", "reason"})
	if reg != nil {
		if err := reg.Register(c); err != nil {
			are, ok := err.(prometheus.AlreadyRegisteredError)
			if !ok {
				panic(err)
			}
			c = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	for _, s := range []string{SourceHTTP, SourceNATS} {
		for _, r := range []string{RefusedInvalid, RefusedFuture} {
			c.WithLabelValues(s, r)
		}
	}
	return c
}
