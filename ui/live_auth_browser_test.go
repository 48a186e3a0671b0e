package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/triaged/triaged/internal/browsertest"
	"github.com/triaged/triaged/internal/testkit"
)

// TestLiveUpdatesBehindBasicAuth: the live updates' stream is opened by a shared worker, not by
// the page; the credentials the browser was given for the site must reach it too, or the page
// behind --web.config.file's basic auth would never follow.
func TestLiveUpdatesBehindBasicAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	x := NewIndex(10, 0, nil)
	u, err := New(Options{Version: "test", Index: x, Events: NewHub(x, HubOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	var refused testkit.SyncBuffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "oncall" || pass != "s3cret" {
			fmt.Fprintln(&refused, r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Basic realm="triaged"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		u.ServeHTTP(w, r)
	}))
	defer srv.Close()
	defer u.opts.Events.Close() // else Close waits for the stream the open page holds
	ctx := browsertest.New(t, 30*time.Second)
	withCredentials := strings.Replace(srv.URL, "http://", "http://oncall:s3cret@", 1)
	if err := chromedp.Do(ctx, chromedp.Navigate(withCredentials+"/"), chromedp.WaitReady("body")); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the page follows the live updates", func() bool {
		return u.opts.Events.Clients() == 1
	})
	if strings.Contains(refused.String(), "/ui/events") {
		t.Logf("refused first, then accepted: %s", refused.String())
	}
}
