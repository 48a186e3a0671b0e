package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/triaged/triaged/internal/browsertest"
	"github.com/triaged/triaged/internal/testkit"
)

// TestLiveUpdatesInTheBrowser runs the incidents page's live updates in Chromium, against the UI
// served by a handler the test swaps as a restart would.
func TestLiveUpdatesInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	var current atomic.Pointer[http.Handler]
	serve := func(h http.Handler) { current.Store(&h) }
	newUI := func() *UI {
		x := NewIndex(10, 0, nil)
		u, err := New(Options{Version: "test", Index: x, Events: NewHub(x, HubOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*current.Load()).ServeHTTP(w, r) }))
	defer srv.Close()
	browser := browsertest.New(t, 90*time.Second)
	liveState := func(ctx context.Context) string {
		s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.live + " / " + document.getElementById("live-state").textContent`))
		return s
	}

	// A restart ends the streams, and the next process answers 503 while it starts
	// (app/starting.go): an EventSource closes for good on a 503, and the page once stayed
	// "live updates: off" until reloaded, showing no new incident.
	t.Run("the page follows again after a restart", func(t *testing.T) {
		first := newUI()
		serve(first)
		tab, cancel := chromedp.NewContext(browser)
		defer cancel()
		if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/"), chromedp.WaitReady("body")); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, "the page follows the live updates", func() bool {
			return first.opts.Events.Clients() == 1
		})
		serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "triaged is starting", http.StatusServiceUnavailable)
		}))
		first.opts.Events.Close()
		testkit.Eventually(t, 10*time.Second, "the page says it lost the live updates", func() bool {
			s, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.dataset.live`))
			return s == "retrying"
		})
		second := newUI()
		serve(second)
		testkit.Eventually(t, 15*time.Second, "the page follows the restarted daemon", func() bool {
			return second.opts.Events.Clients() == 1
		})
		testkit.Eventually(t, 5*time.Second, "the page says so", func() bool {
			return liveState(tab) == "connected / live updates: on"
		})
	})

	// Behind a reverse proxy at /triaged the page loads its scripts, and the shared worker
	// opens the stream, under that path: at the root they would reach the proxy, not triaged.
	t.Run("under a path prefix", func(t *testing.T) {
		x := NewIndex(10, 0, nil)
		u, err := New(Options{Version: "test", Base: "/triaged", Index: x, Events: NewHub(x, HubOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		serve(http.StripPrefix("/triaged", u))
		tab, cancel := chromedp.NewContext(browser)
		defer cancel()
		if err := chromedp.Do(tab, chromedp.Navigate(srv.URL+"/triaged/"), chromedp.WaitReady("body")); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, "the page under /triaged follows the live updates", func() bool {
			return liveState(tab) == "connected / live updates: on" && u.opts.Events.Clients() == 1
		})
	})

	// Over HTTP/1.1 a browser opens at most six connections to a host: with a stream per tab a
	// seventh tab never loaded. The tabs share one stream.
	t.Run("seven tabs share one stream", func(t *testing.T) {
		u := newUI()
		serve(u)
		for i := range 7 {
			tab, cancel := chromedp.NewContext(browser)
			defer cancel()
			ctx, stop := context.WithTimeout(tab, 10*time.Second)
			err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+fmt.Sprintf("/?service=s%d", i)), chromedp.WaitReady("body"))
			if err == nil {
				testkit.Eventually(t, 10*time.Second, fmt.Sprintf("tab %d follows the live updates", i+1), func() bool {
					return liveState(ctx) == "connected / live updates: on"
				})
			}
			stop()
			if err != nil {
				t.Fatalf("tab %d: %v (%d streams open)", i+1, err, u.opts.Events.Clients())
			}
		}
		if n := u.opts.Events.Clients(); n != 1 {
			t.Errorf("%d streams open for 7 tabs, want 1", n)
		}
	})
}
