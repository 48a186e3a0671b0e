package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEveryResponseCarriesTheSecurityHeaders covers pages, static files and unknown paths: the
// CSP is what stops a script an alert smuggled past escaping.
func TestEveryResponseCarriesTheSecurityHeaders(t *testing.T) {
	u, err := New(Options{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, contentType string
		code              int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/static/style.css", "text/css; charset=utf-8", 200},
		{"/static/ui.js", "text/javascript; charset=utf-8", 200},
		{"/no/such/page", "text/plain; charset=utf-8", 404},
	} {
		rec := httptest.NewRecorder()
		u.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != tc.code || rec.Header().Get("Content-Type") != tc.contentType {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, rec.Code, rec.Header().Get("Content-Type"), tc.code, tc.contentType)
		}
		if got := rec.Header().Get("Content-Security-Policy"); got != ContentSecurityPolicy || strings.Contains(got, "unsafe") {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, got)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v", tc.path, rec.Header())
		}
	}
}

func TestHrefKeepsOnlyHTTPAndLocalLinks(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://grafana.example.com/d/x?a=1", "https://grafana.example.com/d/x?a=1"},
		{"http://alertmanager:9093/#/alerts", "http://alertmanager:9093/#/alerts"},
		{"/incidents/abc", "/incidents/abc"},
		{"javascript:alert(1)", ""},
		{"JaVaScRiPt:alert(1)", ""},
		{"data:text/html,<script>alert(1)</script>", ""},
		{"//evil.example.com/x", ""},
		{`/\evil.example.com`, ""},
		{"https:///nohost", ""},
		{"vbscript:x", ""},
		{"", ""},
	} {
		if got := href(tc.in); got != tc.want {
			t.Errorf("href(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
