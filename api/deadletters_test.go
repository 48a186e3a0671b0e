package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
)

// TestDeadLettersAPI lists and replays dead letters on a real JetStream, and answers every bad
// request with its reason.
func TestDeadLettersAPI(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	names := broker.MustNames("triaged")
	if _, err := broker.Ensure(context.Background(), js, names, broker.DefaultTopologyOptions()); err != nil {
		t.Fatal(err)
	}
	for _, origin := range []string{names.AlertSubject("firing"), "elsewhere.subject"} {
		h := nats.Header{}
		h.Set(broker.HeaderOriginSubject, origin)
		h.Set(broker.HeaderReason, broker.ReasonUndecodable)
		h.Set(broker.HeaderError, `alerts[0]: <b>bad</b>`)
		if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: names.DeadLetterSubject("c"), Header: h, Data: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(api.NewDeadLettersHandler(broker.NewDeadLetterStore(js, names), time.Second, nil))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/api/v1/dead-letters", 200, `"total":2,"dead_letters":[{"id":2,`},
		{"GET", "/api/v1/dead-letters?limit=1", 200, `"error":"alerts[0]: <b>bad</b>"`},
		{"GET", "/api/v1/dead-letters?limit=0", 400, `parameter limit: \"0\" is not a number from 1 to 1000`},
		{"GET", "/api/v1/dead-letters?since=1", 400, `parameter since: unknown parameter`},
		{"POST", "/api/v1/dead-letters", 405, `listed with GET`},
		{"GET", "/api/v1/dead-letters/1/replay", 405, `replayed with POST`},
		{"POST", "/api/v1/dead-letters/first/replay", 400, `dead letter id \"first\"`},
		{"POST", "/api/v1/dead-letters/1/redo", 404, `no such endpoint`},
		{"POST", "/api/v1/dead-letters/2/replay", 422, `which is not one of triaged's: not replayed`},
		{"POST", "/api/v1/dead-letters/1/replay", 200, `"status":"success","replayed":{"dead_letter":{"id":1,`},
		{"POST", "/api/v1/dead-letters/1/replay", 404, `no dead letter 1 in TRIAGED_DEADLETTERS (replayed already, or aged out)`},
		{"GET", "/api/v1/dead-letters", 200, `"total":1,`},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(b.String(), tc.want) || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %s, want %d with %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), b.String(), tc.code, tc.want)
		}
	}
}
