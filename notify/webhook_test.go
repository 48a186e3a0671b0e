package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged"
)

// VerifyTriaged is the README's verification snippet, word for word (TestReadmeVerifySnippet
// holds them equal), so the tests below verify with the documented code.
func VerifyTriaged(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get("X-Triaged-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("missing or bad X-Triaged-Timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %s is %s from now", ts, d)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(h.Get("X-Triaged-Signature")), []byte(want)) {
		return errors.New("signature does not match")
	}
	return nil
}

// receiver is a webhook receiver that verifies each request as the README tells receivers to,
// answers with the canned statuses first, and records what it accepted.
type receiver struct {
	secret []byte
	mu     sync.Mutex
	status []int  // answers to give first, one per request
	after  string // Retry-After with them
	got    []received
	bad    []error
}

type received struct {
	header http.Header
	body   []byte
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if len(rv.status) > 0 {
		if rv.after != "" {
			w.Header().Set("Retry-After", rv.after)
		}
		http.Error(w, `{"error":"busy right now"}`, rv.status[0])
		rv.status = rv.status[1:]
		return
	}
	if err := VerifyTriaged(rv.secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
		rv.bad = append(rv.bad, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	rv.got = append(rv.got, received{r.Header.Clone(), body})
	w.WriteHeader(http.StatusNoContent)
}

func webhookSink(t *testing.T, rv *receiver, secret string) (Sink, *httptest.Server) {
	srv := httptest.NewServer(rv)
	t.Cleanup(srv.Close)
	return openPlanned(t, SinkConfig{Name: "hook", Type: "webhook", URL: srv.URL + "/triaged",
		SecretFile: secretFile(t, secret)}), srv
}

// TestWebhookSigned: the receiver gets the report JSON as documented, verifies its signature
// with the README's code, and can dedupe by the delivery header.
func TestWebhookSigned(t *testing.T) {
	rv := &receiver{secret: []byte("k3y-of-the-hook")}
	sink, _ := webhookSink(t, rv, "k3y-of-the-hook")
	for _, rep := range []*triaged.Report{openedP1(), resolvedP1()} {
		if th, err := sink.Deliver(context.Background(), Delivery{Report: rep}); err != nil || th != nil {
			t.Fatalf("Deliver(%s) = %v, %v", rep.ID, th, err)
		}
	}
	if len(rv.got) != 2 || len(rv.bad) != 0 {
		t.Fatalf("accepted %d, refused %v", len(rv.got), rv.bad)
	}
	want, _ := triaged.EncodeReport(resolvedP1())
	h := rv.got[1].header
	if !bytes.Equal(rv.got[1].body, want) || h.Get("X-Triaged-Delivery") != resolvedP1().ID ||
		h.Get("X-Triaged-Event") != "resolved" || h.Get("X-Triaged-Schema-Version") != "2" || h.Get("Content-Type") != "application/json" {
		t.Errorf("request: headers %v, body %s", h, rv.got[1].body)
	}

	// The verification refuses what it must: another key, a changed body, an old timestamp.
	ts := h.Get("X-Triaged-Timestamp")
	sec, _ := strconv.ParseInt(ts, 10, 64)
	for name, err := range map[string]error{
		"other key":    VerifyTriaged([]byte("other"), h, want, time.Now(), 5*time.Minute),
		"changed body": VerifyTriaged(rv.secret, h, append(want[:len(want):len(want)], ' '), time.Now(), 5*time.Minute),
		"replayed":     VerifyTriaged(rv.secret, h, want, time.Unix(sec, 0).Add(6*time.Minute), 5*time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestWebhookErrors(t *testing.T) {
	for _, tc := range []struct {
		status    int
		after     string
		permanent bool
		wait      time.Duration
	}{
		{429, "12", false, 12 * time.Second},
		{503, "3", false, 3 * time.Second},
		{429, "", false, 0},
		{408, "", false, 0},
		{500, "", false, 0},
		{400, "", true, 0},
		{404, "", true, 0},
		{410, "", true, 0},
	} {
		rv := &receiver{secret: []byte("s"), status: []int{tc.status}, after: tc.after}
		sink, _ := webhookSink(t, rv, "s")
		_, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
		wait, _ := RetryAfter(err)
		if err == nil || IsPermanent(err) != tc.permanent || wait != tc.wait || !strings.Contains(err.Error(), strconv.Itoa(tc.status)) {
			t.Errorf("%d (Retry-After %q): %v; want permanent %v, retry after %v", tc.status, tc.after, err, tc.permanent, tc.wait)
		}
		// The retry goes through, with the same delivery id and a fresh signature.
		if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()}); err != nil || len(rv.got) != 1 {
			t.Errorf("%d: retry: %v", tc.status, err)
		}
	}
	// A wrong key is refused by the receiver, permanently.
	rv := &receiver{secret: []byte("right")}
	sink, srv := webhookSink(t, rv, "wrong")
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()}); !IsPermanent(err) || !strings.Contains(err.Error(), "signature does not match") {
		t.Errorf("wrong key: %v", err)
	}
	srv.Close()
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()}); err == nil || IsPermanent(err) {
		t.Errorf("receiver down: %v; want a retryable error", err)
	}
}

// readmeBlock returns the fenced block after marker in the README.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), marker+"\n```")
	if !ok {
		t.Fatalf("README.md has no %s followed by a code block", marker)
	}
	_, rest, _ = strings.Cut(rest, "\n")
	block, _, _ := strings.Cut(rest, "\n```\n")
	return block
}

// TestReadmeVerifySnippet: the README's Go snippet is the VerifyTriaged the tests verify with.
func TestReadmeVerifySnippet(t *testing.T) {
	src := func(file, code string) string {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, code, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "VerifyTriaged" {
				fn.Doc = nil
				var b bytes.Buffer
				if err := printer.Fprint(&b, fset, fn); err != nil {
					t.Fatal(err)
				}
				return b.String()
			}
		}
		t.Fatalf("%s has no VerifyTriaged", file)
		return ""
	}
	readme := src("README.md", "package x\n"+readmeBlock(t, "<!-- webhook-verify-go -->"))
	self, err := os.ReadFile("webhook_test.go")
	if err != nil {
		t.Fatal(err)
	}
	if test := src("webhook_test.go", string(self)); readme != test {
		t.Errorf("README's VerifyTriaged differs from the one the tests run:\n%s", diffLines(test, readme))
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)); i++ {
		x, y := "", ""
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "test: "+x, "readme: "+y)
		}
	}
	return strings.Join(out, "\n")
}

// TestReadmeVerifyShell runs the README's openssl check on a request the sink signed.
func TestReadmeVerifyShell(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	rv := &receiver{secret: []byte("shell-secret")}
	sink, _ := webhookSink(t, rv, "shell-secret")
	if _, err := sink.Deliver(context.Background(), Delivery{Report: hostile()}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "body.json"), rv.got[0].body, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(sig string) string {
		cmd := exec.Command(sh, "-c", readmeBlock(t, "<!-- webhook-verify-sh -->"))
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ts="+rv.got[0].header.Get("X-Triaged-Timestamp"), "sig="+sig, "secret=shell-secret")
		out, _ := cmd.CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	if out := run(rv.got[0].header.Get("X-Triaged-Signature")); out != "signature ok" {
		t.Errorf("the README's shell check of a good signature says %q", out)
	}
	if out := run("v1=00"); out != "" {
		t.Errorf("the README's shell check of a bad signature says %q", out)
	}
}
