package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/httpin"
)

// Publisher persists a webhook's alert messages. It returns nil only when all of them are durable.
type Publisher interface {
	PublishAlerts(ctx context.Context, msgs []triaged.AlertMessage) (duplicates int, err error)
}

// Options configures the webhook handler.
type Options struct {
	MaxBodyBytes   int64         // larger bodies get 413
	PublishTimeout time.Duration // after it the webhook gets 503 and Alertmanager retries
	// Limits bound each webhook's alerts; a webhook over one gets 413. Zero: DefaultLimits.
	Limits triaged.Limits
	// MaxInflightBytes bounds the bodies being handled at once (at least MaxBodyBytes); a webhook
	// that finds it taken waits up to PublishTimeout, then gets 503.
	MaxInflightBytes int64
	// Heartbeats, when set, takes the heartbeat alerts (Watchdog) out of a webhook before it is
	// stored, and records them; an error gets the webhook a 503, for Alertmanager to retry.
	Heartbeats func(ctx context.Context, b *triaged.Batch) error
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

type metrics struct {
	requests        *prometheus.CounterVec
	ok              prometheus.Counter
	alerts          *prometheus.CounterVec
	firing          prometheus.Counter
	resolved        prometheus.Counter
	truncatedHooks  prometheus.Counter
	truncatedAlerts prometheus.Counter
	deduplicated    prometheus.Counter
	inflightBytes   prometheus.Gauge
	inflightRefused prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_webhook_requests_total",
			Help: "Alertmanager webhook requests, by HTTP status code of the reply.",
		}, []string{"code"}),
		alerts: f.NewCounterVec(prometheus.CounterOpts{
			Name: "triaged_alerts_received_total",
			Help: "Alerts taken from webhooks and persisted on the alerts stream, by alert status.",
		}, []string{"status"}),
		truncatedHooks: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_webhook_truncated_total",
			Help: "Webhooks whose truncatedAlerts was above zero: Alertmanager's max_alerts left alerts out.",
		}),
		deduplicated: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_alerts_deduplicated_total",
			Help: "Alerts of webhooks the alerts stream already held (an identical resend of the group): received, and absorbed without new work.",
		}),
		truncatedAlerts: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_alerts_truncated_total",
			Help: "Alerts that Alertmanager left out of webhooks because of max_alerts.",
		}),
		inflightBytes: f.NewGauge(prometheus.GaugeOpts{
			Name: "triaged_webhook_inflight_bytes",
			Help: "Bytes of webhook bodies being read, decoded and published (their Content-Length, or the body limit).",
		}),
		inflightRefused: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_webhook_inflight_refused_total",
			Help: "Webhooks answered 503 because ingest.max_inflight_bytes stayed taken for their publish timeout.",
		}),
	}
	for _, code := range []int{http.StatusOK, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusServiceUnavailable} {
		m.requests.WithLabelValues(strconv.Itoa(code))
	}
	m.ok = m.requests.WithLabelValues("200")
	m.firing = m.alerts.WithLabelValues(triaged.StatusFiring)
	m.resolved = m.alerts.WithLabelValues(triaged.StatusResolved)
	return m
}

type alertsHandler struct {
	pub      Publisher
	opts     Options
	metrics  *metrics
	inflight *inflight
	bufs     sync.Pool
}

// maxPooledBuffer is the largest body buffer kept for the next webhook: a pool of buffers grown
// to the body limit would hold memory that no in-flight bound accounts for.
const maxPooledBuffer = 64 << 10

// NewAlertsHandler returns the handler of POST /api/v1/alerts.
func NewAlertsHandler(pub Publisher, o Options) http.Handler {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Limits == (triaged.Limits{}) {
		o.Limits = triaged.DefaultLimits()
	}
	if o.MaxInflightBytes <= 0 {
		o.MaxInflightBytes = 32 << 20
	}
	// Less than one body would refuse the largest webhooks for ever.
	o.MaxInflightBytes = max(o.MaxInflightBytes, o.MaxBodyBytes)
	h := &alertsHandler{pub: pub, opts: o, metrics: newMetrics(o.Registerer)}
	h.inflight = newInflight(o.MaxInflightBytes, o.PublishTimeout, h.metrics)
	h.bufs.New = func() any { return new(bytes.Buffer) }
	return h
}

func (h *alertsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	received := h.opts.Now()
	n, err := h.serve(w, r, received)
	if err != nil {
		he := httpin.Reply(w, err)
		level := slog.LevelInfo
		if he.Code >= 500 {
			level = slog.LevelError
		}
		h.opts.Logger.Log(r.Context(), level, "webhook rejected", "code", he.Code, "remote", r.RemoteAddr, "err", he.Msg)
		h.metrics.requests.WithLabelValues(strconv.Itoa(he.Code)).Inc()
		return
	}
	h.metrics.ok.Inc()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"status":"success","alerts":%d}`+"\n", n)
}

func (h *alertsHandler) serve(w http.ResponseWriter, r *http.Request, received time.Time) (int, error) {
	size := h.opts.MaxBodyBytes
	if r.ContentLength >= 0 && r.ContentLength < size {
		size = r.ContentLength
	}
	release, err := h.inflight.acquire(r.Context(), w, size)
	if err != nil {
		return 0, err
	}
	defer release()
	buf := h.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			h.bufs.Put(buf)
		}
	}()
	buf.Grow(int(size) + bytes.MinRead) // read without doubling the buffer at the end
	if err := httpin.ReadJSON(w, r, h.opts.MaxBodyBytes, buf, "an Alertmanager webhook"); err != nil {
		return 0, err
	}
	batch, err := h.opts.Limits.Decode(buf.Bytes(), received)
	var tooLarge *triaged.LimitError
	if errors.As(err, &tooLarge) {
		// Alertmanager retries no 4xx: what can never be stored is not retried for ever.
		return 0, httpin.Errorf(http.StatusRequestEntityTooLarge, "%v", err)
	}
	if err != nil {
		return 0, httpin.Errorf(http.StatusBadRequest, "%v", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.PublishTimeout)
	defer cancel()
	alerts := len(batch.Alerts)
	if h.opts.Heartbeats != nil {
		if err := h.opts.Heartbeats(ctx, batch); err != nil {
			return 0, httpin.Errorf(http.StatusServiceUnavailable, "record heartbeat: %v", err)
		}
		if len(batch.Alerts) == 0 {
			return alerts, nil
		}
	}
	msgs, err := batch.Encode()
	if err != nil {
		return 0, err // our fault, not the sender's: a 500
	}
	dups, err := h.pub.PublishAlerts(ctx, msgs)
	if err != nil {
		return 0, httpin.Errorf(http.StatusServiceUnavailable, "persist alerts: %v", err)
	}
	// A resend that the stream already holds (Alertmanager's repeat_interval, a second
	// Alertmanager of an HA pair) is absorbed here.
	h.metrics.deduplicated.Add(float64(dups))
	for i := range batch.Alerts {
		if batch.Alerts[i].Status == triaged.StatusFiring {
			h.metrics.firing.Inc()
		} else {
			h.metrics.resolved.Inc()
		}
	}
	if t := batch.Group.TruncatedAlerts; t > 0 {
		h.metrics.truncatedHooks.Inc()
		h.metrics.truncatedAlerts.Add(float64(t))
		h.opts.Logger.Warn("Alertmanager truncated a webhook: raise max_alerts on the receiver", "truncated_alerts", t, "group_key", batch.Group.Key)
	}
	return alerts, nil
}
