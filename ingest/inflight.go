package ingest

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"github.com/triaged/triaged/internal/httpin"
)

// inflight bounds the bytes of webhook bodies being read, decoded and published at once, so that
// 512 connections each sending a body of the maximum size cannot exhaust memory: a webhook takes
// its share (its Content-Length, or the body limit when it sends none) before its body is read,
// waits for it at most its publish timeout, and holds it until it is answered.
type inflight struct {
	sem     *semaphore.Weighted
	limit   int64
	wait    time.Duration
	bytes   prometheus.Gauge
	refused prometheus.Counter
}

func newInflight(limit int64, wait time.Duration, m *metrics) *inflight {
	return &inflight{sem: semaphore.NewWeighted(limit), limit: limit, wait: wait, bytes: m.inflightBytes, refused: m.inflightRefused}
}

// acquire takes n bytes, waiting while others hold them; the error is a 503 Alertmanager retries.
func (f *inflight) acquire(ctx context.Context, w http.ResponseWriter, n int64) (release func(), err error) {
	wctx, cancel := context.WithTimeout(ctx, f.wait)
	defer cancel()
	if err := f.sem.Acquire(wctx, n); err != nil {
		f.refused.Inc()
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(f.wait/time.Second))))
		why := "waited " + f.wait.String()
		if errors.Is(context.Cause(ctx), context.Canceled) {
			why = "the request was canceled"
		}
		return nil, httpin.Errorf(http.StatusServiceUnavailable, "too many webhook bodies in flight: %d more bytes would exceed ingest.max_inflight_bytes %d (%s); retry", n, f.limit, why)
	}
	f.bytes.Add(float64(n))
	return func() {
		f.bytes.Sub(float64(n))
		f.sem.Release(n)
	}, nil
}
