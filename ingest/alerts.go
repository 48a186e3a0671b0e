package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/httpin"
)

// Publisher persists a webhook's alerts. It returns nil only when all of them are durable.
type Publisher interface {
	PublishAlerts(ctx context.Context, b *triaged.Batch) error
}

// Options configures the webhook handler.
type Options struct {
	MaxBodyBytes   int64         // larger bodies get 413
	PublishTimeout time.Duration // after it the webhook gets 503 and Alertmanager retries
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
	Now            func() time.Time
}

// WebhookVersion is the only Alertmanager webhook payload version understood.
const WebhookVersion = "4"

type metrics struct {
	requests        *prometheus.CounterVec
	ok              prometheus.Counter
	alerts          *prometheus.CounterVec
	firing          prometheus.Counter
	resolved        prometheus.Counter
	truncatedHooks  prometheus.Counter
	truncatedAlerts prometheus.Counter
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
		truncatedAlerts: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_alerts_truncated_total",
			Help: "Alerts that Alertmanager left out of webhooks because of max_alerts.",
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
	pub     Publisher
	opts    Options
	metrics *metrics
	bufs    sync.Pool
}

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
	h := &alertsHandler{pub: pub, opts: o, metrics: newMetrics(o.Registerer)}
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
	buf := h.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer h.bufs.Put(buf)
	if err := httpin.ReadJSON(w, r, h.opts.MaxBodyBytes, buf, "an Alertmanager webhook"); err != nil {
		return 0, err
	}
	batch, err := Decode(buf.Bytes(), received)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.PublishTimeout)
	defer cancel()
	if err := h.pub.PublishAlerts(ctx, batch); err != nil {
		return 0, httpin.Errorf(http.StatusServiceUnavailable, "persist alerts: %v", err)
	}
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
	return len(batch.Alerts), nil
}

// validFingerprint accepts Alertmanager's hexadecimal fingerprints; the fingerprint becomes a
// key in the incidents bucket, so anything else is refused at the door.
func validFingerprint(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Decode parses and validates an Alertmanager webhook body. It checks every alert before
// returning any, so a bad payload is refused whole, with a reason naming the first field at
// fault.
func Decode(body []byte, received time.Time) (*triaged.Batch, error) {
	var msg webhook.Message
	if err := json.Unmarshal(body, &msg); err != nil {
		return nil, httpin.Errorf(http.StatusBadRequest, "malformed webhook JSON: %s", describeJSONError(body, err))
	}
	if msg.Data == nil || msg.Version == "" {
		return nil, httpin.Errorf(http.StatusBadRequest, "not an Alertmanager webhook: no \"version\" field")
	}
	if msg.Version != WebhookVersion {
		return nil, httpin.Errorf(http.StatusBadRequest, "unsupported webhook version %q: want %q", msg.Version, WebhookVersion)
	}
	if len(msg.Alerts) == 0 {
		return nil, httpin.Errorf(http.StatusBadRequest, "not an Alertmanager webhook: \"alerts\" is empty or missing")
	}
	batch := &triaged.Batch{ReceivedAt: received, Alerts: msg.Alerts, Group: triaged.Group{
		Receiver:        msg.Receiver,
		Status:          msg.Status,
		Key:             msg.GroupKey,
		Labels:          msg.GroupLabels,
		CommonLabels:    msg.CommonLabels,
		ExternalURL:     msg.ExternalURL,
		Size:            len(msg.Alerts),
		TruncatedAlerts: msg.TruncatedAlerts,
	}}
	for i, a := range msg.Alerts {
		switch {
		case a.Status != triaged.StatusFiring && a.Status != triaged.StatusResolved:
			return nil, httpin.Errorf(http.StatusBadRequest, "alerts[%d].status: %q is neither %q nor %q", i, a.Status, triaged.StatusFiring, triaged.StatusResolved)
		case len(a.Labels) == 0:
			return nil, httpin.Errorf(http.StatusBadRequest, "alerts[%d].labels: empty: an alert is identified by its labels", i)
		case a.StartsAt.IsZero():
			return nil, httpin.Errorf(http.StatusBadRequest, "alerts[%d].startsAt: missing", i)
		case a.Fingerprint != "" && !validFingerprint(a.Fingerprint):
			return nil, httpin.Errorf(http.StatusBadRequest, "alerts[%d].fingerprint: %q is not hexadecimal", i, a.Fingerprint)
		}
	}
	return batch, nil
}

// describeJSONError adds the line and column to encoding/json's offset-only errors.
func describeJSONError(body []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var off int64 = -1
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	case errors.Is(err, io.ErrUnexpectedEOF):
		off = int64(len(body))
	}
	if off < 0 {
		return err.Error()
	}
	line, col := 1, 1
	for _, c := range body[:min(off, int64(len(body)))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}
