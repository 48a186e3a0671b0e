package app_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/triaged/triaged/app"
)

// TestRoutePrefix: behind a reverse proxy at https://ops.example.com/triaged, triaged serves
// every endpoint under /triaged by default, as Prometheus does with its external URL's path, and
// every page links, loads and calls under it; with --web.route-prefix=/ (a proxy that strips
// the path) it serves at the root and the pages still link under /triaged.
func TestRoutePrefix(t *testing.T) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(t *testing.T, url string) (int, string, string) {
		t.Helper()
		resp, err := noRedirect.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(body)
	}
	// Every link, script and call the incidents page makes is under the base, none at the root.
	checkPage := func(t *testing.T, page string) {
		t.Helper()
		for _, want := range []string{`data-base="/triaged"`, `src="/triaged/static/ui.js"`, `href="/triaged/rules"`, `href="/triaged/status"`, `href="/triaged/static/style.css"`} {
			if !strings.Contains(page, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		for _, root := range []string{`href="/r`, `href="/s`, `src="/s`, `action="/"`, `href="/"`} {
			if strings.Contains(page, root) {
				t.Errorf("the page links %s… at the root", root)
			}
		}
	}

	t.Run("the external URL's path", func(t *testing.T) {
		r := start(t, app.Options{ExternalURL: "https://ops.example.com/triaged/", ConfigFile: configFile(t, reportAtOnce)})
		root := "http://" + r.app.Addr().String()
		if r.url != root+"/triaged" {
			t.Fatalf("served under %q, want /triaged", strings.TrimPrefix(r.url, root))
		}
		for _, tc := range []struct {
			path, location string
			code           int
		}{
			{"/triaged/-/healthy", "", http.StatusOK},
			{"/triaged/-/ready", "", http.StatusOK},
			{"/triaged/metrics", "", http.StatusOK},
			{"/triaged/static/ui.js", "", http.StatusOK},
			{"/triaged/rules", "", http.StatusOK},
			{"/", "/triaged/", http.StatusFound},
			// The routes' own redirects keep the prefix.
			{"/triaged/static", "/triaged/static/", http.StatusTemporaryRedirect},
			{"/triaged//rules", "/triaged/rules", http.StatusTemporaryRedirect},
			{"/triaged", "/triaged/", http.StatusFound},
			{"/-/healthy", "", http.StatusNotFound},
			{"/api/v1/incidents", "", http.StatusNotFound},
			{"/triagedx/-/healthy", "", http.StatusNotFound},
		} {
			code, location, body := get(t, root+tc.path)
			if code != tc.code || location != tc.location {
				t.Errorf("GET %s: %d %q, want %d %q", tc.path, code, location, tc.code, tc.location)
			}
			if code == http.StatusNotFound && !strings.Contains(body, "--web.route-prefix") {
				t.Errorf("GET %s: the 404 does not say where triaged serves: %s", tc.path, body)
			}
		}
		_, _, page := get(t, r.url+"/")
		checkPage(t, page)
		r.postFile(t, "firing-3-alerts.json") // Alertmanager's webhook URL carries the prefix
		r.waitReports(t, 1)
	})

	t.Run("a proxy that strips the path", func(t *testing.T) {
		r := start(t, app.Options{ExternalURL: "https://ops.example.com/triaged", RoutePrefix: "/"})
		if code, _, _ := get(t, r.url+"/-/healthy"); code != http.StatusOK || r.app.RoutePrefix() != "" {
			t.Errorf("GET /-/healthy: %d with route prefix %q, want 200 at the root", code, r.app.RoutePrefix())
		}
		_, _, page := get(t, r.url+"/")
		checkPage(t, page)
	})

	t.Run("a prefix that is no clean path", func(t *testing.T) {
		for _, prefix := range []string{"triaged", "/a/../b", "/x?y", "/a//b", `/my"app`, "/a b", "/<x>"} {
			_, err := app.New(context.Background(), app.Options{ListenAddress: "127.0.0.1:0", StoragePath: t.TempDir(), RoutePrefix: prefix})
			if err == nil || !strings.Contains(err.Error(), "--web.route-prefix") || !strings.Contains(err.Error(), strconv.Quote(prefix)) {
				t.Errorf("route prefix %q: %v, want an error naming the flag and the value", prefix, err)
			}
		}
		// From the external URL, decoded: the error says where it came from.
		_, err := app.New(context.Background(), app.Options{ListenAddress: "127.0.0.1:0", StoragePath: t.TempDir(), ExternalURL: "https://ops.example.com/my%22app"})
		if err == nil || !strings.Contains(err.Error(), `"/my\"app" (the path of --web.external-url`) {
			t.Errorf("external URL with a quote in its path: %v, want an error naming where the prefix came from", err)
		}
	})
}
