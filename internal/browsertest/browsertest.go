// Package browsertest drives the daemon's web UI in a real headless Chromium, through
// chromedp, for the UI's browser tests.
//
// Chromium is Debian's `chromium` package, which .ci/run installs. Without it a test is skipped,
// unless TRIAGED_REQUIRE_BROWSER is set (as .ci/run sets it): then a missing browser fails it, so
// CI cannot pass by skipping.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser finds Chromium, or "" when there is none.
func Browser() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless Chromium for t and returns a tab's context, cancelled (and the browser
// stopped) when t ends. Every chromedp action of the test runs under timeout.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	bin := Browser()
	if bin == "" {
		if os.Getenv("TRIAGED_REQUIRE_BROWSER") != "" {
			t.Fatal("no chromium found, and TRIAGED_REQUIRE_BROWSER is set: install Debian's chromium package")
		}
		t.Skip("no chromium found: install Debian's chromium package to run the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelTab := chromedp.NewContext(allocCtx)
	// The browser lives as long as the context of the first action: start it on one without a
	// timeout (a failure to start is then reported as such), and time the test's actions.
	if err := chromedp.Do(browserCtx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("starting chromium %s: %v", bin, err)
	}
	ctx, cancelTimeout := context.WithTimeout(browserCtx, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// Screenshot saves the whole page as name.png: under $TRIAGED_SCREENSHOTS when set (the README's
// pictures are made that way), else under the test's temporary directory, and logs the path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := os.Getenv("TRIAGED_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
