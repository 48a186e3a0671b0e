package triage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/common/model"

	"github.com/triaged/triaged"
)

// Heartbeat is the alerting pipeline's dead man's switch: alerts matching Matchers (Prometheus'
// always-firing Watchdog) are never reported, but prove that the Alertmanager that sent them
// reaches triaged. When one that did stops for longer than Interval, a P1 incident says alerts
// may be lost; it resolves when the heartbeats resume.
type Heartbeat struct {
	// Matchers select the heartbeat alerts; none: no heartbeat is tracked.
	Matchers labels.Matchers
	// Interval is how long an Alertmanager may be silent. It must exceed the Watchdog route's
	// repeat_interval plus group_interval, after which Alertmanager sends the heartbeat again.
	Interval time.Duration
}

// HeartbeatAlertName is the alertname of the alert triaged raises itself when heartbeats stop.
const HeartbeatAlertName = "TriagedHeartbeatMissing"

// heartbeatPrefix is the prefix of the heartbeat records' keys in the incidents bucket, apart
// from the incidents' "g." so that listing incidents never meets one.
const heartbeatPrefix = "hb."

// heartbeatReceiver is the receiver of triaged's own notifications: "/" is in no Alertmanager
// receiver's name that its group keys would collide with.
const heartbeatReceiver = "triaged/heartbeat"

// beatRecord is the last heartbeat of one Alertmanager, shared by the replicas in the bucket.
type beatRecord struct {
	URL  string    `json:"url"`
	Last time.Time `json:"last"`
	// Missing says the incident is open, raised when the heartbeats stopped after Since.
	Missing bool      `json:"missing,omitempty"`
	Since   time.Time `json:"since,omitzero"`
}

func heartbeatKey(url string) string {
	sum := sha256.Sum256([]byte(url))
	return heartbeatPrefix + hex.EncodeToString(sum[:16])
}

// heartbeatMetrics are the heartbeat's own series.
type heartbeatMetrics struct {
	age   *prometheus.GaugeVec
	beats prometheus.Counter
}

func newHeartbeatMetrics(reg prometheus.Registerer) *heartbeatMetrics {
	f := promauto.With(reg)
	return &heartbeatMetrics{
		age: f.NewGaugeVec(prometheus.GaugeOpts{
			Name: "triaged_heartbeat_age_seconds",
			Help: "Time since the last heartbeat (Watchdog) from each Alertmanager, by its external URL, as of the last check.",
		}, []string{"alertmanager"}),
		beats: f.NewCounter(prometheus.CounterOpts{
			Name: "triaged_heartbeats_received_total",
			Help: "Heartbeat alerts received; they are never reported.",
		}),
	}
}

// isHeartbeat reports whether a is a heartbeat alert. triaged's own alert never is, whatever
// the matchers, so that it cannot silence itself.
func (w *Worker) isHeartbeat(a *triaged.Alert) bool {
	if len(w.o.Heartbeat.Matchers) == 0 || a.Name() == HeartbeatAlertName {
		return false
	}
	ls := make(model.LabelSet, len(a.Labels))
	for k, v := range a.Labels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return w.o.Heartbeat.Matchers.Matches(ls)
}

// TakeHeartbeats takes the heartbeat alerts out of a notification at the door, where they are
// not yet deduplicated (Alertmanager resends the same Watchdog, which the alerts stream would
// store once), and records the last one of the sending Alertmanager. A resolved heartbeat is its
// rule stopping: taken out, but no heartbeat. An error leaves b whole, for the sender to retry.
func (w *Worker) TakeHeartbeats(ctx context.Context, b *triaged.Batch) error {
	if len(w.o.Heartbeat.Matchers) == 0 {
		return nil
	}
	kept, beat := b.Alerts[:0:0], false
	for _, a := range b.Split() {
		if !w.isHeartbeat(&a) {
			kept = append(kept, a.Alert)
			continue
		}
		beat = beat || !a.Resolved()
	}
	if len(kept) == len(b.Alerts) {
		return nil
	}
	if beat {
		if err := w.beat(ctx, b.Group.ExternalURL, b.ReceivedAt); err != nil {
			return err
		}
	}
	b.Alerts = kept
	return nil
}

// beat records a heartbeat from the Alertmanager at url, received at the given time. An open
// incident stays marked: the next check resolves it.
func (w *Worker) beat(ctx context.Context, url string, at time.Time) error {
	w.heartbeat.beats.Inc()
	key := heartbeatKey(url)
	for range 3 {
		rec, rev, err := w.loadBeat(ctx, key)
		if err != nil {
			return err
		}
		if rec != nil && !rec.Last.Before(at) {
			return nil // a later heartbeat is recorded already
		}
		next := beatRecord{URL: url, Last: at}
		if rec != nil {
			next.Missing = rec.Missing
		}
		if err := w.putBeat(ctx, key, rev, next); errors.Is(err, errConflict) {
			continue // another replica recorded one meanwhile: decide again on its record
		} else if err != nil {
			return err
		}
		w.heartbeat.age.WithLabelValues(url).Set(max(0, w.o.Now().Sub(at).Seconds()))
		return nil
	}
	return fmt.Errorf("record heartbeat of %s: %w", url, errConflict)
}

// runHeartbeats checks the heartbeats' ages until ctx is done, often enough that a stopped
// heartbeat is noticed within a quarter of the interval.
func (w *Worker) runHeartbeats(ctx context.Context) {
	if len(w.o.Heartbeat.Matchers) == 0 || w.o.Heartbeat.Interval <= 0 {
		return
	}
	every := min(max(w.o.Heartbeat.Interval/4, 100*time.Millisecond), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, w.o.HandleTimeout)
		w.checkHeartbeats(cctx)
		cancel()
	}
}

// checkHeartbeats opens the incident of each Alertmanager silent for longer than the interval,
// and resolves it once its heartbeats resume. Marking its record with compare-and-set is the
// lease: of several replicas checking at once, only the one whose write wins raises the alert.
// Should raising it fail, the mark is taken back so that the next check tries again. A
// resolution goes before its mark is cleared, so that a failure leaves it to the next check;
// resolving twice changes nothing.
func (w *Worker) checkHeartbeats(ctx context.Context) {
	keys, err := w.o.Incidents.ListKeysFiltered(ctx, heartbeatPrefix+">")
	if err != nil {
		if !errors.Is(err, jetstream.ErrNoKeysFound) {
			w.log.Warn("listing heartbeats failed", "err", err)
		}
		return
	}
	defer keys.Stop()
	now := w.o.Now()
	for k := range keys.Keys() {
		rec, rev, err := w.loadBeat(ctx, k)
		if err != nil || rec == nil {
			continue
		}
		age := now.Sub(rec.Last)
		w.heartbeat.age.WithLabelValues(rec.URL).Set(max(0, age.Seconds()))
		silent := age > w.o.Heartbeat.Interval
		switch {
		case silent && !rec.Missing:
			w.raise(ctx, k, rev, *rec)
		case !silent && rec.Missing:
			if err := w.triage(ctx, heartbeatBatch(rec.URL, rec.Since, rec.Last)); err != nil {
				w.log.Error("resolving the missing heartbeat failed; will retry", "alertmanager", rec.URL, "err", err)
				continue
			}
			rec.Missing, rec.Since = false, time.Time{}
			if w.putBeat(ctx, k, rev, *rec) == nil {
				w.log.Info("heartbeat resumed", "alertmanager", rec.URL)
			}
		}
	}
}

// raise opens the missing-heartbeat incident of rec, at revision rev of key, unless another
// replica does.
func (w *Worker) raise(ctx context.Context, key string, rev uint64, rec beatRecord) {
	rec.Missing, rec.Since = true, rec.Last
	if err := w.putBeat(ctx, key, rev, rec); err != nil {
		return // another replica raised it, or a heartbeat came: the next check sees which
	}
	w.log.Warn("heartbeat missing", "alertmanager", rec.URL, "key", key, "since", rec.Last, "interval", w.o.Heartbeat.Interval)
	if err := w.triage(ctx, heartbeatBatch(rec.URL, rec.Since, time.Time{})); err != nil {
		w.log.Error("raising the missing heartbeat failed; will retry", "alertmanager", rec.URL, "err", err)
		if r, rev, err := w.loadBeat(ctx, key); err == nil && r != nil && r.Missing {
			r.Missing = false
			_ = w.putBeat(ctx, key, rev, *r)
		}
	}
}

func (w *Worker) loadBeat(ctx context.Context, key string) (*beatRecord, uint64, error) {
	e, err := w.o.Incidents.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load heartbeat %s: %w", key, err)
	}
	var rec beatRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, 0, fmt.Errorf("decode heartbeat %s: %w", key, err)
	}
	return &rec, e.Revision(), nil
}

// putBeat stores rec if the record is still at revision rev (0: absent); errConflict if not.
func (w *Worker) putBeat(ctx context.Context, key string, rev uint64, rec beatRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = w.o.Incidents.Create(ctx, key, data)
	} else {
		_, err = w.o.Incidents.Update(ctx, key, data, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err) {
		return errConflict
	}
	if err != nil {
		return fmt.Errorf("store heartbeat %s: %w", key, err)
	}
	return nil
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// heartbeatBatch is triaged's own notification that the heartbeats of the Alertmanager at url
// stopped after since; resolved at the given time when it is not zero. It goes through triage
// as any notification does, so its incident is reported, updated and resolved like any other.
func heartbeatBatch(url string, since, resolvedAt time.Time) *triaged.Batch {
	a := template.Alert{
		Status: triaged.StatusFiring,
		Labels: template.KV{
			"alertname":    HeartbeatAlertName,
			"alertmanager": url,
			"severity":     "critical",
			"service":      "alerting-pipeline",
		},
		Annotations: template.KV{
			"summary": fmt.Sprintf("no heartbeat from the alerting pipeline at %s since %s: alerts may be lost",
				url, since.UTC().Format(time.RFC3339)),
			"description": "The heartbeat alert (Watchdog) that this Alertmanager sends all the time has not reached triaged. " +
				"Prometheus, Alertmanager, or the way between them and triaged is broken, and other alerts may not arrive either.",
		},
		StartsAt: since,
	}
	received := time.Now()
	if !resolvedAt.IsZero() {
		a.Status, a.EndsAt, received = triaged.StatusResolved, resolvedAt, resolvedAt
	}
	return &triaged.Batch{ReceivedAt: received, Alerts: []template.Alert{a}, Group: triaged.Group{
		Receiver:     heartbeatReceiver,
		Status:       a.Status,
		Key:          "{}/{heartbeat}:{alertmanager=" + fmt.Sprintf("%q", url) + "}",
		Labels:       template.KV{"alertmanager": url},
		CommonLabels: a.Labels,
		Size:         1,
	}}
}

// heartbeatClassifier makes triaged's own missing-heartbeat alert a P1 whatever the rules say:
// while it is open, any other incident may be going unreported.
type heartbeatClassifier struct{ Classifier }

func (c heartbeatClassifier) Classify(a *triaged.Alert, svc triaged.Service, now time.Time) triaged.Classification {
	if a.Name() != HeartbeatAlertName || a.Group.Receiver != heartbeatReceiver {
		return c.Classifier.Classify(a, svc, now)
	}
	reason := "no heartbeat from the alerting pipeline: alerts may be lost"
	return triaged.Classification{
		Severity:  triaged.P1,
		Rule:      "heartbeat",
		Decisions: []triaged.Decision{{Stage: "classify", Rule: "heartbeat", Severity: triaged.P1, Reason: reason}},
		Impact:    triaged.Impact{ProductionDown: false, FeatureDegraded: true},
	}
}
