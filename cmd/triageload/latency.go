package main

import (
	"bytes"
	"context"
	"encoding/json"
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

// runLatency sends a new group of perWebhook alerts at a fixed rate and times each webhook until
// its group's opening report is on the reports stream.
func runLatency(rate, perWebhook int, duration time.Duration, storage string) error {
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

	var sent sync.Map // group key → time the webhook of the group was sent
	var mu sync.Mutex
	var latencies []time.Duration
	sub, err := a.Conn().Subscribe(a.Config().NATS.Prefix+".reports."+string(triaged.EventOpened)+".>", func(m *nats.Msg) {
		now := time.Now()
		var rep struct {
			GroupKey string `json:"group_key"`
		}
		if json.Unmarshal(m.Data, &rep) != nil {
			return
		}
		if t0, ok := sent.LoadAndDelete(rep.GroupKey); ok {
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
	fmt.Printf("sending %d alerts/s as %d-alert webhooks, each a new group, every %s for %s\n", rate, perWebhook, interval, duration)

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
			fmt.Printf("  %3.0fs: %d webhooks sent, %d openings\n", time.Since(start).Seconds(), seq.Load(), n)
		case <-tick.C:
			// Open loop: a slow reply must not slow the sending rate down.
			g := group{alertname: "LoadTest", id: int(seq.Add(1))}
			body := g.webhook(0, perWebhook, time.Now())
			inflight.Go(func() {
				sent.Store(g.key(), time.Now())
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
	fmt.Printf("sent %d alerts in %d webhooks of a new group each (%d failed); %d opening reports\n", total*perWebhook, total, failures.Load(), len(latencies))
	fmt.Printf("webhook→opening latency: p50 %s  p90 %s  p99 %s  max %s\n",
		q(.50).Round(10*time.Microsecond), q(.90).Round(10*time.Microsecond), q(.99).Round(10*time.Microsecond), q(1).Round(10*time.Microsecond))
	if len(latencies) < total || failures.Load() > 0 {
		return fmt.Errorf("%d of %d groups got no opening report; %d webhooks failed", total-len(latencies), total, failures.Load())
	}
	return nil
}
