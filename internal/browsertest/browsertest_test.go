package browsertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/triaged/triaged/internal/browsertest"
)

// TestBrowserRunsScriptsAndObeysCSP loads a page whose external script sets the title and whose
// inline script would change it too: under a CSP without 'unsafe-inline', only the first runs.
func TestBrowserRunsScriptsAndObeysCSP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/s.js" {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `document.title = "external ran";`)
			return
		}
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'")
		fmt.Fprint(w, `<!DOCTYPE html><title>none</title><script src="/s.js"></script><script>document.title += " and inline ran"</script>`)
	}))
	defer srv.Close()
	ctx := browsertest.New(t, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "external ran" {
		t.Errorf("title %q, want %q", title, "external ran")
	}
	path := browsertest.Screenshot(t, ctx, "csp")
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("screenshot %s: %v", path, err)
	}
}
