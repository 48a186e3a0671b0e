package notify

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/slacktest"
)

// A rate-limited conversations.setPurpose leaves incident A's channel unmarked; incident B,
// same service and alert the same day (another group, e.g. another instance), must not take it
// as its own: only the incident that claimed the name may. A's next report marks it.
func TestSlackIncidentChannelUnmarkedNotTakenByAnotherIncident(t *testing.T) {
	srv := incidentSlack(t)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	srv.FailNext("conversations.setPurpose", slacktest.Failure{Error: "ratelimited"})
	a := openedP1()
	tha, err := sink.Deliver(context.Background(), Delivery{Report: a})
	if err != nil {
		t.Fatal(err)
	}
	if !tha.Incident.Unmarked {
		t.Fatalf("the channel's refused purpose is not recorded as pending: %+v", tha.Incident)
	}
	b := openedP1()
	b.IncidentID, b.ID = "other-incident", "other-incident-opened"
	thb, err := sink.Deliver(context.Background(), Delivery{Report: b})
	if err != nil {
		t.Fatal(err)
	}
	if tha.Incident.ID == thb.Incident.ID {
		t.Fatalf("two incidents share channel #%s (%s); created %q", thb.Incident.Name, thb.Incident.ID, srv.Created())
	}
	up := updatedP1()
	th, err := sink.Deliver(context.Background(), Delivery{Report: up, Thread: tha})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := srv.Channel(p1Channel); th.Incident.Unmarked || !strings.Contains(c.Purpose, channelMarker(a.IncidentID)) {
		t.Errorf("the next report did not mark the channel: unmarked %v, purpose %q", th.Incident.Unmarked, c.Purpose)
	}
}

// A crash between conversations.create and setPurpose: the retry finds the name it claimed taken
// by the bot's unmarked channel, and takes it as its own (and marks it) instead of a "-2".
func TestSlackIncidentChannelClaimedUnmarkedAdoptedOnRetry(t *testing.T) {
	srv := incidentSlack(t)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	srv.FailNext("conversations.setPurpose", slacktest.Failure{Error: "ratelimited"})
	var saved []*Thread
	save := func(_ context.Context, th *Thread) error { saved = append(saved, th); return nil }
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1(), Save: save}); err != nil {
		t.Fatal(err)
	}
	if len(saved) < 2 || saved[0].Incident.Claim != p1Channel || saved[0].Incident.ID != "" {
		t.Fatalf("the name was not claimed before the channel was created: %+v", saved)
	}
	// The process died after the claim: its record holds only that.
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1(), Thread: saved[0], MaybePosted: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := srv.Channel(p1Channel)
	if th.Incident.ID != c.ID || len(srv.Created()) != 1 || !strings.Contains(c.Purpose, channelMarker(openedP1().IncidentID)) {
		t.Errorf("retry took %+v; created %q; purpose %q", th.Incident, srv.Created(), c.Purpose)
	}
}

// A rate-limited conversations.create (Tier 2, 20/min: a storm of P2 openings meets it) must not
// hold back the team channel's report: it is posted, the delivery fails with the rate limit, and
// its retry creates the channel without posting in the team channel again.
func TestSlackIncidentChannelCreateRateLimitTeamChannelFirst(t *testing.T) {
	srv := incidentSlack(t)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	srv.FailNext("conversations.create", slacktest.Failure{Status: http.StatusTooManyRequests, RetryAfter: 30})
	rep := openedP1()
	th, err := sink.Deliver(context.Background(), Delivery{Report: rep})
	if _, limited := RetryAfter(err); !limited {
		t.Fatalf("want the rate limit for the retry, got %v", err)
	}
	roots := srv.Roots("incidents")
	if len(roots) != 1 || th == nil || th.RootID != roots[0].TS || th.Posted != rep.ID {
		t.Fatalf("team channel roots %d, thread %+v", len(roots), th)
	}
	th, err = sink.Deliver(context.Background(), Delivery{Report: rep, Thread: th})
	if err != nil {
		t.Fatal(err)
	}
	if th.Incident == nil || th.Incident.Name != p1Channel || th.Posted != "" {
		t.Fatalf("the retry's thread %+v", th)
	}
	n := 0
	for _, m := range srv.Replies("incidents", roots[0].TS) {
		if metaOf(m, "report_id") == rep.ID {
			n++
		}
	}
	if len(srv.Roots("incidents")) != 1 || n != 1 || len(srv.Roots(p1Channel)) != 1 {
		t.Errorf("team roots %d, the report %d times in its thread, %d messages in #%s",
			len(srv.Roots("incidents")), n, len(srv.Roots(p1Channel)), p1Channel)
	}
	_ = triaged.P1
}

// Ten incidents of one service and alert in a day: the tenth, its suffixes "-2" … "-9" taken,
// gets a channel named with the end of its ID.
func TestSlackIncidentChannelTenthSameNameTakesIncidentID(t *testing.T) {
	srv := incidentSlack(t)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	seen := map[string]bool{}
	var last *Thread
	for i := range 10 {
		rep := openedP1()
		rep.IncidentID = rep.IncidentID + "-" + string(rune('a'+i))
		rep.ID = rep.IncidentID + "-opened"
		th, err := sink.Deliver(context.Background(), Delivery{Report: rep})
		if err != nil {
			t.Fatal(err)
		}
		if th.Incident == nil || th.Incident.ID == "" || seen[th.Incident.ID] {
			t.Fatalf("incident %d: channel %+v", i+1, th.Incident)
		}
		seen[th.Incident.ID], last = true, th
	}
	if want := p1Channel + "-092653zj"; last.Incident.Name != want {
		t.Errorf("the tenth incident's channel is #%s, want #%s", last.Incident.Name, want)
	}
}

// Every name taken, the one with the incident's ID too: the incident has no channel, recorded
// with why, and its later reports try no name again.
func TestSlackIncidentChannelAllNamesTakenRecorded(t *testing.T) {
	rep := openedP1()
	srv := slacktest.New(t, testToken, append([]string{"incidents"}, channelNames(p1Channel, slackMaxChannelName, rep.IncidentID, "")...)...)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	th, err := sink.Deliver(context.Background(), Delivery{Report: rep})
	if err != nil {
		t.Fatal(err)
	}
	if th.Incident == nil || th.Incident.ID != "" || !strings.Contains(th.Incident.None, "taken") {
		t.Fatalf("no channel not recorded: %+v", th.Incident)
	}
	before := len(srv.Accepted())
	if _, err := sink.Deliver(context.Background(), Delivery{Report: updatedP1(), Thread: th}); err != nil {
		t.Fatal(err)
	}
	for _, c := range srv.Accepted()[before:] {
		if strings.HasPrefix(c.Method, "conversations.") {
			t.Errorf("a later report called %s", c.Method)
		}
	}
}

// A 429 on the incident channel's post, after the team channel's reply went out, comes back to
// the outbox as a rate limit, whose retry is not marked maybe-posted: the thread returned says
// the reply is posted, so the retry on another replica (no memory of it) does not post it again.
func TestSlackIncidentPost429DoesNotRepeatTeamReply(t *testing.T) {
	srv := incidentSlack(t)
	var mu sync.Mutex
	failIncidentPost := false
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		hit := failIncidentPost && strings.HasSuffix(r.URL.Path, "chat.postMessage") &&
			strings.Contains(string(body), `"channel":"C0000002"`) && !strings.Contains(string(body), "thread_ts")
		if hit {
			failIncidentPost = false
		}
		mu.Unlock()
		if hit {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
			return
		}
		req, _ := http.NewRequest(r.Method, srv.URL+r.URL.Path, bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	open := func() Sink {
		dir := t.TempDir()
		tok := filepath.Join(dir, "token")
		_ = os.WriteFile(tok, []byte(testToken+"\n"), 0o600)
		plan, err := PlanSink(SinkConfig{Name: "team-chat", Type: "slack", URL: proxy.URL + "/api/", TokenFile: tok, Channel: "#incidents", IncidentChannel: &IncidentChannelConfig{}})
		if err != nil {
			t.Fatal(err)
		}
		sink, _, err := plan.Open(SinkEnv{ExternalURL: "https://triaged.example", ChannelMetrics: NewChannelMetrics(nil)})
		if err != nil {
			t.Fatal(err)
		}
		return sink
	}
	a, b := open(), open()
	th, err := a.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	if th.Incident == nil || th.Incident.ID != "C0000002" {
		t.Fatalf("incident channel %+v", th.Incident)
	}
	up := updatedP1()
	up.IncidentID = openedP1().IncidentID
	mu.Lock()
	failIncidentPost = true
	mu.Unlock()
	th2, err := a.Deliver(context.Background(), Delivery{Report: up, Thread: th})
	if _, limited := RetryAfter(err); err == nil || !limited {
		t.Fatalf("want a rate-limited failure, got %v", err)
	}
	// The outbox's retry: maybe-posted false (a refusal "says nothing of an earlier attempt").
	if _, err := b.Deliver(context.Background(), Delivery{Report: up, Thread: th2, MaybePosted: false}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range srv.Replies("incidents", th.RootID) {
		if metaOf(m, "report_id") == up.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the team channel's thread holds report %s %d times", up.ID, n)
	}
}

// The channel archived while the incident reopened (the archiver racing the reopening; Slack
// lets no bot unarchive): the report goes to the team channel, and the thread records the
// channel as archived, so the later reports say so instead of posting there.
func TestSlackIncidentChannelArchivedUnderfootRecorded(t *testing.T) {
	srv := incidentSlack(t)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{ArchiveAfter: confval.Duration(time.Hour)}, nil)
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := AsArchiver(sink)
	if _, err := a.Archive(context.Background(), openedP1().IncidentID, th); err != nil {
		t.Fatal(err)
	}
	up := updatedP1()
	th2, err := sink.Deliver(context.Background(), Delivery{Report: up, Thread: th})
	if err != nil {
		t.Fatal(err)
	}
	if th2.Incident == nil || !th2.Incident.Archived {
		t.Fatalf("the archived channel not recorded: %+v", th2.Incident)
	}
	if got := srv.Replies("incidents", th.RootID); metaOf(got[len(got)-1], "report_id") != up.ID {
		t.Errorf("the report is not in the team channel's thread")
	}
}
