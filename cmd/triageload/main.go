// Command triageload measures webhook→report latency: it runs a whole triaged in process (embedded
// NATS on file storage, default rules, the stdout sink rendering every report), sends Alertmanager
// webhooks at a fixed rate over HTTP, and times each alert until its report is on the reports
// stream.
//
//	go run ./cmd/triageload -rate 1000 -duration 60s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
)

func main() {
	rate := flag.Int("rate", 1000, "alerts per second to send")
	duration := flag.Duration("duration", 60*time.Second, "how long to send")
	perWebhook := flag.Int("alerts-per-webhook", 10, "alerts in each webhook")
	storage := flag.String("storage.path", "", "embedded NATS storage (default: a temporary directory, removed after)")
	flag.Parse()
	if err := run(*rate, *perWebhook, *duration, *storage); err != nil {
		fmt.Fprintln(os.Stderr, "triageload:", err)
		os.Exit(1)
	}
}

func run(rate, perWebhook int, duration time.Duration, storage string) error {
	if rate < 1 || perWebhook < 1 || duration <= 0 {
		return fmt.Errorf("-rate, -alerts-per-webhook and -duration must be positive")
	}
	if storage == "" {
		dir, err := os.MkdirTemp("", "triageload-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		storage = dir
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, app.Options{
		ListenAddress: "127.0.0.1:0",
		StoragePath:   storage,
		Stdout:        io.Discard,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()

	var sent sync.Map // fingerprint → time the webhook carrying it was sent
	var mu sync.Mutex
	var latencies []time.Duration
	sub, err := a.Conn().Subscribe(a.Config().NATS.Prefix+".reports.>", func(m *nats.Msg) {
		now := time.Now()
		rep, err := triaged.DecodeReport(m.Data)
		if err != nil || len(rep.Alerts) == 0 {
			return
		}
		if t0, ok := sent.LoadAndDelete(rep.Alerts[0].Fingerprint); ok {
			mu.Lock()
			latencies = append(latencies, now.Sub(t0.(time.Time)))
			mu.Unlock()
		}
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()

	url := "http://" + a.Addr().String() + "/api/v1/alerts"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	interval := time.Duration(float64(time.Second) * float64(perWebhook) / float64(rate))
	fmt.Printf("sending %d alerts/s as %d-alert webhooks every %s for %s\n", rate, perWebhook, interval, duration)

	var seq, failures atomic.Int64
	var inflight sync.WaitGroup
	tick := time.NewTicker(interval)
	progress := time.NewTicker(10 * time.Second)
	deadline := time.After(duration)
	start := time.Now()
send:
	for {
		select {
		case <-deadline:
			break send
		case <-progress.C:
			mu.Lock()
			n := len(latencies)
			mu.Unlock()
			fmt.Printf("  %3.0fs: %d alerts sent, %d reports\n", time.Since(start).Seconds(), seq.Load(), n)
		case <-tick.C:
			// Open loop: a slow reply must not slow the sending rate down.
			body, fps := webhook(&seq, perWebhook)
			inflight.Go(func() {
				t0 := time.Now()
				for _, fp := range fps {
					sent.Store(fp, t0)
				}
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					failures.Add(1)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
				}
			})
		}
	}
	tick.Stop()
	inflight.Wait()
	total := int(seq.Load())
	waitEnd := time.Now().Add(30 * time.Second)
	for time.Now().Before(waitEnd) {
		mu.Lock()
		n := len(latencies)
		mu.Unlock()
		if n >= total {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The sinks read the reports stream on their own consumers: say whether they kept up.
	sendEnd := time.Now()
	for delivered(a) < total && time.Since(sendEnd) < 60*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("sinks delivered %d reports, the last %s after sending stopped\n", delivered(a), time.Since(sendEnd).Round(time.Millisecond))
	cancel()
	if err := <-runErr; err != nil {
		return err
	}

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	q := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))]
	}
	fmt.Printf("sent %d alerts in %d webhooks (%d failed); %d reports\n", total, total/perWebhook, failures.Load(), len(latencies))
	fmt.Printf("webhook→report latency: p50 %s  p90 %s  p99 %s  max %s\n",
		q(.50).Round(10*time.Microsecond), q(.90).Round(10*time.Microsecond), q(.99).Round(10*time.Microsecond), q(1).Round(10*time.Microsecond))
	if len(latencies) < total || failures.Load() > 0 {
		return fmt.Errorf("%d of %d alerts got no report", total-len(latencies), total)
	}
	return nil
}

// webhook builds an Alertmanager v4 webhook of n new alerts of one group.
func webhook(seq *atomic.Int64, n int) ([]byte, []string) {
	startsAt := time.Now().UTC().Format(time.RFC3339Nano)
	var b bytes.Buffer
	fps := make([]string, n)
	b.WriteString(`{"receiver":"triaged","status":"firing","alerts":[`)
	for i := range n {
		id := seq.Add(1)
		fps[i] = fmt.Sprintf("%016x", id)
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"status":"firing","labels":{"alertname":"LoadTest","service":"checkout","env":"prod","severity":"critical","instance":"host-%d"},"annotations":{"summary":"load test alert %d"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":%q}`, id, id, startsAt, fps[i])
	}
	b.WriteString(`],"groupLabels":{"alertname":"LoadTest"},"commonLabels":{"alertname":"LoadTest","service":"checkout","env":"prod","severity":"critical"},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","version":"4","groupKey":"{}:{alertname=\"LoadTest\"}","truncatedAlerts":0}`)
	return b.Bytes(), fps
}

// delivered counts successful deliveries to the sinks, from the daemon's own metrics.
func delivered(a *app.App) int {
	mfs, err := a.Registry().Gather()
	if err != nil {
		return 0
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != "triaged_notifications_total" {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "result" && l.GetValue() == "success" {
					n += int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return n
}
