package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/test"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/internal/testkit"
)

func status(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStartsBeforeNATS: an external NATS that is not up yet is waited for, with health 200 and
// readiness 503 saying what is waited for, and a webhook 503, instead of failing after 5 s.
func TestStartsBeforeNATS(t *testing.T) {
	natsPort, webPort := freePort(t), freePort(t)
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	web := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		a   *app.App
		err error
	}
	created := make(chan result, 1)
	go func() {
		a, err := app.New(ctx, app.Options{ListenAddress: fmt.Sprintf("127.0.0.1:%d", webPort), NATSURL: natsURL})
		created <- result{a, err}
	}()
	testkit.Eventually(t, 5*time.Second, "readiness says it waits for NATS", func() bool {
		code, body := status(web + "/-/ready")
		return code == 503 && strings.Contains(body, "waiting for NATS at "+natsURL)
	})
	if code, body := status(web + "/-/healthy"); code != 200 {
		t.Errorf("/-/healthy while waiting for NATS: %d %q", code, body)
	}
	resp, err := http.Post(web+"/api/v1/alerts", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("webhook while waiting for NATS: %d, want 503 (Alertmanager retries it)", resp.StatusCode)
	}

	opts := natsserver.DefaultTestOptions
	opts.Port = natsPort
	opts.JetStream = true
	opts.StoreDir = t.TempDir()
	ns := natsserver.RunServer(&opts)
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()

	res := <-created
	if res.err != nil {
		t.Fatalf("app.New once NATS is up: %v", res.err)
	}
	done := make(chan error, 1)
	go func() { done <- res.a.Run(ctx) }()
	testkit.Eventually(t, 10*time.Second, "ready once NATS is up", func() bool {
		code, _ := status(web + "/-/ready")
		return code == 200
	})
	if _, metrics := status(web + "/metrics"); !strings.Contains(metrics, "\ntriaged_nats_connected 1\n") {
		t.Errorf("/metrics once NATS is up lacks triaged_nats_connected 1")
	}
	ns.Shutdown() // and the connection is lost: /metrics is served by now, and says so
	testkit.Eventually(t, 5*time.Second, "triaged_nats_connected 0 once NATS is gone", func() bool {
		_, metrics := status(web + "/metrics")
		return strings.Contains(metrics, "\ntriaged_nats_connected 0\n")
	})
	ns.WaitForShutdown()
	ns = natsserver.RunServer(&opts) // back, so that the shutdown below drains a live connection
	testkit.Eventually(t, 10*time.Second, "ready and triaged_nats_connected 1 once NATS is back", func() bool {
		code, _ := status(web + "/-/ready")
		_, metrics := status(web + "/metrics")
		return code == 200 && strings.Contains(metrics, "\ntriaged_nats_connected 1\n")
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestWaitingForNATSEndsOnSignal: SIGINT (ctx) ends the wait at once, with what it waited for.
func TestWaitingForNATSEndsOnSignal(t *testing.T) {
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := app.New(ctx, app.Options{ListenAddress: "127.0.0.1:0", NATSURL: natsURL})
		errc <- err
	}()
	cancel()
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "stopped while waiting for NATS at "+natsURL) {
		t.Fatalf("app.New cancelled while waiting: %v", err)
	}
}
