package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/metrictest"
	"github.com/triaged/triaged/internal/slacktest"
)

// saved is a delivery record in memory: what Delivery.Save stored, and what the team channel
// held at that moment.
type saved struct {
	mu         sync.Mutex
	th         *Thread
	rootsAtIt  int
	failFirstN int
}

func (s *saved) save(srv *slacktest.Server) func(context.Context, *Thread) error {
	return func(_ context.Context, th *Thread) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.failFirstN > 0 {
			s.failFirstN--
			return errors.New("deliveries bucket unavailable")
		}
		cp := *th
		s.th, s.rootsAtIt = &cp, len(srv.Roots("incidents"))
		return nil
	}
}

// incidentSlack is a Slack with the team channel #incidents and the people of openedP1's
// catalog entry: carol (handle), alice (e-mail), bob (display name) and the payments group.
func incidentSlack(t *testing.T) *slacktest.Server {
	srv := slacktest.New(t, testToken, "incidents")
	srv.AddUser(slacktest.User{ID: "UCAROL", Name: "carol"})
	srv.AddUser(slacktest.User{ID: "UALICE", Name: "alice", Email: "alice@example.com"})
	srv.AddUser(slacktest.User{ID: "UBOB", Name: "robert", DisplayName: "bob"})
	srv.AddUser(slacktest.User{ID: "UDAVE", Name: "dave"})
	srv.AddGroup("payments", "UDAVE", "UCAROL")
	return srv
}

func openIncidentSink(t *testing.T, srv *slacktest.Server, ic *IncidentChannelConfig, reg prometheus.Registerer) Sink {
	t.Helper()
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plan, err := PlanSink(SinkConfig{Name: "team-chat", Type: "slack", URL: srv.APIURL(), TokenFile: tok, Channel: "#incidents", IncidentChannel: ic})
	if err != nil {
		t.Fatal(err)
	}
	sink, _, err := plan.Open(SinkEnv{ExternalURL: "https://triaged.example", ChannelMetrics: NewChannelMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	return sink
}

const p1Channel = "incident-20260314-checkout-checkoutdown"

// TestSlackIncidentChannel: a P1 opening creates one channel named by the default template,
// records it before the team channel hears of it, sets its topic to the headline, invites the
// on-call, the owners and the team (resolved by handle, e-mail, display name and user group),
// lists whom it could not find, and posts and pins the full report there. The team channel's
// root links to it, and the later reports go to both channels.
func TestSlackIncidentChannel(t *testing.T) {
	srv := incidentSlack(t)
	reg := prometheus.NewRegistry()
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, reg)
	rep := openedP1()
	rep.Owners = append(rep.Owners, "alice@example.com", "zed@example.com")
	rec := &saved{}
	th, err := sink.Deliver(context.Background(), Delivery{Report: rep, Save: rec.save(srv)})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Created(); !slices.Equal(got, []string{p1Channel}) {
		t.Fatalf("channels created: %q, want [%s]", got, p1Channel)
	}
	ch, _ := srv.Channel(p1Channel)
	if rec.th == nil || rec.th.Incident == nil || rec.th.Incident.ID != ch.ID || rec.rootsAtIt != 0 {
		t.Fatalf("saved %+v with %d roots in the team channel; want the channel %s saved before the root was posted", rec.th, rec.rootsAtIt, ch.ID)
	}
	if th == nil || th.Incident == nil || th.Incident.ID != ch.ID || !th.Incident.Ready || th.RootID == "" {
		t.Fatalf("thread %+v, want the root and the ready channel %s", th, ch.ID)
	}
	if ch.Topic != triaged.Headline(rep) || !strings.Contains(ch.Purpose, rep.IncidentID) {
		t.Errorf("topic %q purpose %q; want the headline, and the incident's id in the purpose", ch.Topic, ch.Purpose)
	}
	if want := []string{"UALICE", "UBOB", slacktest.BotUserID, "UCAROL", "UDAVE"}; !slices.Equal(ch.Members, want) {
		t.Errorf("members %q, want %q", ch.Members, want)
	}
	msgs := srv.Roots(p1Channel)
	if len(msgs) != 2 {
		t.Fatalf("%d messages in the incident channel, want the report and the list of people not invited: %+v", len(msgs), msgs)
	}
	if !strings.Contains(blocksText(msgs[1]), "zed@example.com (no Slack user") || strings.Contains(blocksText(msgs[1]), "alice") {
		t.Errorf("the note lists the wrong people: %s", blocksText(msgs[1]))
	}
	report := msgs[0]
	if metaOf(report, "report_id") != rep.ID || !slices.Equal(ch.Pins, []string{report.TS}) {
		t.Errorf("pins %q, want the report %s pinned", ch.Pins, report.TS)
	}
	link := "<" + srv.URL + "/archives/" + ch.ID + "|#" + p1Channel + ">"
	if !strings.Contains(blocksText(report), "Incident Channel: "+link) || !strings.Contains(blocksText(report), "Status Page Updated: N") {
		t.Errorf("the report's Communication section lacks the channel's link %s:\n%s", link, blocksText(report))
	}
	root := srv.Roots("incidents")[0]
	if !strings.Contains(blocksText(root), "*Incident channel*: "+link) {
		t.Errorf("the team channel's root does not link the incident channel:\n%s", blocksText(root))
	}

	up := updatedP1()
	if th, err = sink.Deliver(context.Background(), Delivery{Report: up, Thread: th, Save: rec.save(srv)}); err != nil {
		t.Fatal(err)
	}
	if len(srv.Created()) != 1 || len(srv.Roots(p1Channel)) != 3 || metaOf(srv.Roots(p1Channel)[2], "report_id") != up.ID {
		t.Errorf("the update: %d channels created, incident channel %+v; want it posted in the one channel", len(srv.Created()), srv.Roots(p1Channel))
	}
	if got := metrictest.Value(t, reg, "triaged_incident_channels_total", "sink", "team-chat", "result", "created"); got != 1 {
		t.Errorf("triaged_incident_channels_total{result=created} = %v, want 1", got)
	}
	if got := metrictest.Value(t, reg, "triaged_incident_channel_steps_total", "sink", "team-chat", "step", "invite", "result", "unknown_user"); got != 1 {
		t.Errorf("unknown users counted %v, want 1", got)
	}
}

func metaOf(m slacktest.Message, key string) string {
	if m.Metadata == nil {
		return ""
	}
	s, _ := m.Metadata.EventPayload[key].(string)
	return s
}

// TestSlackIncidentChannelSeverity: a P3 gets no channel; its escalation to P2 creates one
// then, and the team channel's root is edited to link it.
func TestSlackIncidentChannelSeverity(t *testing.T) {
	srv := incidentSlack(t)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{MinSeverity: "P2"}, nil)
	p3 := pendingP3()
	th, err := sink.Deliver(context.Background(), Delivery{Report: p3})
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Created()) != 0 || th.Incident != nil {
		t.Fatalf("a P3 got a channel: %q", srv.Created())
	}
	up := pendingP3()
	up.ID, up.Event, up.Severity, up.SeverityName = up.IncidentID+".1.updated", triaged.EventUpdated, triaged.P2, "HIGH"
	if th, err = sink.Deliver(context.Background(), Delivery{Report: up, Thread: th}); err != nil {
		t.Fatal(err)
	}
	const name = "incident-20260314-search-searchlatencyhigh"
	if got := srv.Created(); !slices.Equal(got, []string{name}) || th.Incident == nil || th.Incident.Name != name {
		t.Fatalf("after the escalation: created %q, thread %+v; want %s", got, th, name)
	}
	roots := srv.Roots("incidents")
	if len(roots) != 1 || !strings.Contains(blocksText(roots[0]), "|#"+name+">") {
		t.Errorf("the root was not edited to link the new channel: %+v", roots)
	}
}

// TestSlackIncidentChannelMissingScope: without channels:manage the team channel gets the root
// and the report as always; the report says why there is no incident channel, and the metric
// counts it.
func TestSlackIncidentChannelMissingScope(t *testing.T) {
	srv := incidentSlack(t)
	srv.RevokeScope("channels:manage")
	reg := prometheus.NewRegistry()
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, reg)
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatalf("a missing scope failed the delivery: %v", err)
	}
	if th.Incident != nil || len(srv.Created()) != 0 {
		t.Fatalf("thread %+v, channels %q; want no incident channel", th, srv.Created())
	}
	roots := srv.Roots("incidents")
	if len(roots) != 1 || len(srv.Replies("incidents", roots[0].TS)) != 1 {
		t.Fatalf("the team channel lacks the root or the report: %+v", roots)
	}
	report := blocksText(srv.Replies("incidents", roots[0].TS)[0])
	if !strings.Contains(report, "no dedicated channel: the Slack app lacks the channels:manage scope") {
		t.Errorf("the report does not say why there is no incident channel:\n%s", report)
	}
	if got := metrictest.Value(t, reg, "triaged_incident_channels_total", "sink", "team-chat", "result", "missing_scope"); got != 1 {
		t.Errorf("triaged_incident_channels_total{result=missing_scope} = %v, want 1", got)
	}
}

// TestSlackIncidentChannelOnce: two replicas delivering the same opening at once, and an
// attempt that created the channel and died before recording it, all end with one channel.
func TestSlackIncidentChannelOnce(t *testing.T) {
	srv := incidentSlack(t)
	a := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	b := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	var wg sync.WaitGroup
	threads := make([]*Thread, 2)
	for i, s := range []Sink{a, b} {
		wg.Go(func() {
			th, err := s.Deliver(context.Background(), Delivery{Report: openedP1(), MaybePosted: true})
			if err != nil {
				t.Error(err)
			}
			threads[i] = th
		})
	}
	wg.Wait()
	if got := srv.Created(); len(got) != 1 {
		t.Fatalf("two replicas created %q, want one channel", got)
	}
	if threads[0].Incident.ID != threads[1].Incident.ID {
		t.Errorf("the replicas recorded channels %s and %s", threads[0].Incident.ID, threads[1].Incident.ID)
	}

	// The record was not written: the retry finds the channel by name, created once.
	rec := &saved{failFirstN: 1}
	c := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	rep := resolvedP2()
	rep.Severity = triaged.P1
	if _, err := c.Deliver(context.Background(), Delivery{Report: rep, Save: rec.save(srv)}); err == nil {
		t.Fatal("a failed save did not fail the delivery")
	}
	th, err := c.Deliver(context.Background(), Delivery{Report: rep, Save: rec.save(srv), MaybePosted: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Created(); len(got) != 2 || th.Incident == nil || th.Incident.Name != got[1] {
		t.Errorf("after the retry: created %q, thread %+v; want the second channel created once", got, th)
	}
	// Another incident whose name is taken gets the next name.
	other := resolvedP2()
	other.IncidentID, other.ID, other.Severity = "other", "other.0.resolved", triaged.P1
	if th, err = c.Deliver(context.Background(), Delivery{Report: other}); err != nil {
		t.Fatal(err)
	}
	if th.Incident == nil || th.Incident.Name != srv.Created()[1]+"-2" {
		t.Errorf("a second incident with the same name got %+v, want the name with -2", th.Incident)
	}
}

// TestSlackIncidentChannelArchive: the resolution schedules the archive; Archive posts the
// closing message with the postmortem's link once, and archives the channel.
func TestSlackIncidentChannelArchive(t *testing.T) {
	srv := incidentSlack(t)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{ArchiveAfter: confval.Duration(time.Hour)}, nil)
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	if th.Incident.ArchiveAt != nil {
		t.Errorf("an opening scheduled the archive at %v", th.Incident.ArchiveAt)
	}
	res := openedP1()
	res.ID, res.Event, res.Status = res.IncidentID+".1.resolved", triaged.EventResolved, triaged.ReportResolved
	if th, err = sink.Deliver(context.Background(), Delivery{Report: res, Thread: th}); err != nil {
		t.Fatal(err)
	}
	if at := th.Incident.ArchiveAt; at == nil || time.Until(*at) < 59*time.Minute {
		t.Fatalf("the resolution scheduled the archive at %v, want in an hour", at)
	}
	msgs := srv.Roots(p1Channel)
	if note := msgs[len(msgs)-1]; note.Metadata == nil || note.Metadata.EventType != slackPostmortemEvent ||
		!strings.Contains(note.Text, "/api/v1/incidents/"+res.IncidentID+"/postmortem.md|postmortem.md>") {
		t.Errorf("after the resolution the incident channel's last message is %q, want the postmortem's link", note.Text)
	}
	// Reopened before the archive: the same channel, the archive called off; resolved again.
	re := reopenedP1()
	re.IncidentID, re.ID = res.IncidentID, res.IncidentID+".2.reopened"
	if th, err = sink.Deliver(context.Background(), Delivery{Report: re, Thread: th}); err != nil {
		t.Fatal(err)
	}
	msgs = srv.Roots(p1Channel)
	if th.Incident.ArchiveAt != nil || len(srv.Created()) != 1 || metaOf(msgs[len(msgs)-1], "report_id") != re.ID {
		t.Fatalf("reopened: %+v, channels %q; want the one channel reused and the archive called off", th.Incident, srv.Created())
	}
	res.ID = res.IncidentID + ".3.resolved"
	if th, err = sink.Deliver(context.Background(), Delivery{Report: res, Thread: th}); err != nil {
		t.Fatal(err)
	}
	a, ok := AsArchiver(sink)
	if !ok {
		t.Fatal("a slack sink with archive_after is no Archiver")
	}
	for range 2 { // a retry after a crash between posting and recording
		th2, err := a.Archive(context.Background(), res.IncidentID, th)
		if err != nil {
			t.Fatal(err)
		}
		if !th2.Incident.Archived || th2.Incident.ArchiveAt != nil {
			t.Errorf("after Archive: %+v", th2.Incident)
		}
	}
	ch, _ := srv.Channel(p1Channel)
	all := srv.Roots(p1Channel)
	closing := all[len(all)-1]
	if !ch.Archived || metaOf(closing, "incident_id") != res.IncidentID ||
		!strings.Contains(closing.Text, "<https://triaged.example/api/v1/incidents/"+res.IncidentID+"/postmortem.md|postmortem.md>") {
		t.Errorf("archived %v, last message %q; want the closing message with the postmortem's link", ch.Archived, closing.Text)
	}
	n := 0
	for _, m := range srv.Roots(p1Channel) {
		if m.Metadata != nil && m.Metadata.EventType == slackClosingEvent {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d closing messages, want 1", n)
	}
	// Reopened after the archive: a bot cannot unarchive; the report says so, the team
	// channel has it.
	re.ID = res.IncidentID + ".4.reopened"
	th.Incident.Archived = true
	th3, err := sink.Deliver(context.Background(), Delivery{Report: re, Thread: th})
	if err != nil {
		t.Fatal(err)
	}
	replies := srv.Replies("incidents", th3.RootID)
	if last := blocksText(replies[len(replies)-1]); !strings.Contains(last, "is archived; unarchive it to use it again") {
		t.Errorf("the reopened report does not say the channel is archived:\n%s", last)
	}
}

// TestIncidentChannelConfig: the block's mistakes are named by field.
func TestIncidentChannelConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    SinkConfig
		want string
	}{
		{"severity", SinkConfig{Type: "slack", TokenFile: "t", IncidentChannel: &IncidentChannelConfig{MinSeverity: "high"}},
			`incident_channel.min_severity: "high" is not a severity`},
		{"template", SinkConfig{Type: "slack", TokenFile: "t", IncidentChannel: &IncidentChannelConfig{NameTemplate: "{{.Nope}}"}},
			"incident_channel.name_template: try on a sample report"},
		{"empty name", SinkConfig{Type: "slack", TokenFile: "t", IncidentChannel: &IncidentChannelConfig{NameTemplate: "#!"}},
			"incident_channel.name_template: try on a sample report: the name template gave"},
		{"negative", SinkConfig{Type: "slack", TokenFile: "t", IncidentChannel: &IncidentChannelConfig{ArchiveAfter: -1}},
			"incident_channel.archive_after: must not be negative"},
		{"kind", SinkConfig{Type: "teams", URLFile: "u", IncidentChannel: &IncidentChannelConfig{}},
			"incident_channel: a teams sink takes no incident_channel"},
		{"mattermost team", SinkConfig{Type: "mattermost", URL: "https://mm.example", TokenFile: "t", Channel: "0123456789abcdefghijklmnop", IncidentChannel: &IncidentChannelConfig{}},
			"incident_channel: needs the team to create channels in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PlanSink(tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestChannelSlug: names are made valid for both services and unique suffixes fit the limit.
func TestChannelSlug(t *testing.T) {
	for in, want := range map[string]string{
		"incident-20260314-Checkout API-ServiceDown": "incident-20260314-checkout-api-servicedown",
		"#Incident__x  ÿ--y-":                        "incident__x-y",
		"---":                                        "",
		"_x_":                                        "x",
	} {
		if got := channelSlug(in, 80); got != want {
			t.Errorf("channelSlug(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("a", 70)
	if got := channelSlug(long+"-bbbbbbbbbbbbbbbbbbbbbbbbb", 64); got != long[:64] {
		t.Errorf("not cut to 64: %q", got)
	}
	names := channelNames(strings.Repeat("x", 64), 64, "", "")
	if len(names) != channelNameTries || names[1] != strings.Repeat("x", 62)+"-2" {
		t.Errorf("names %q", names)
	}
}
