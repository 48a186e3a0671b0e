package notify

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/chattest"
	"github.com/triaged/triaged/internal/confval"
)

func mmIncidentSink(t *testing.T, mm *chattest.Mattermost, ic *IncidentChannelConfig) Sink {
	return openPlanned(t, SinkConfig{Name: "mm", Type: "mattermost", URL: mm.URL,
		TokenFile: secretFile(t, mm.Token), Channel: "ops/incidents", IncidentChannel: ic})
}

// TestMattermostIncidentChannel: a P1 opening creates one channel in the team of the sink's
// channel, its header the headline and its purpose the incident's marker; the people are added
// by username and e-mail, the unknown listed; the report is posted and pinned there, linked
// from the team channel's root; the resolution goes there too, and Archive closes it once.
func TestMattermostIncidentChannel(t *testing.T) {
	mm := chattest.NewMattermost(t)
	team := mm.AddChannel("ops", "incidents")
	mm.AddUser(chattest.MMUser{ID: "ucarol", Username: "carol"})
	mm.AddUser(chattest.MMUser{ID: "ualice", Username: "alice"})
	mm.AddUser(chattest.MMUser{ID: "ubob", Username: "bob", Email: "bob@example.com"})
	sink := mmIncidentSink(t, mm, &IncidentChannelConfig{ArchiveAfter: confval.Duration(time.Hour)})
	rep := openedP1()
	rep.Owners = []string{"alice", "bob@example.com", "zed"}
	rec := &saved{}
	var savedRoots int
	save := func(ctx context.Context, th *Thread) error {
		for _, p := range mm.Posts() {
			if p.ChannelID == team {
				savedRoots++
			}
		}
		rec.th = th
		return nil
	}
	th, err := sink.Deliver(context.Background(), Delivery{Report: rep, Save: save})
	if err != nil {
		t.Fatal(err)
	}
	if got := mm.CreatedChannels(); !slices.Equal(got, []string{p1Channel}) {
		t.Fatalf("created %q, want [%s]", got, p1Channel)
	}
	ch, _ := mm.Channel("ops", p1Channel)
	if rec.th == nil || rec.th.Incident.ID != ch.ID || savedRoots != 0 || th.Incident == nil || th.Incident.ID != ch.ID || th.RootID == "" {
		t.Fatalf("saved %+v (%d team posts then), returned %+v; want the channel saved before the team channel heard of it", rec.th, savedRoots, th)
	}
	if ch.Header != triaged.Headline(rep) || !strings.Contains(ch.Purpose, rep.IncidentID) {
		t.Errorf("header %q purpose %q", ch.Header, ch.Purpose)
	}
	if want := []string{"ualice", "ubob", chattest.MattermostBotID, "ucarol"}; !slices.Equal(ch.Members, want) {
		t.Errorf("members %q, want %q", ch.Members, want)
	}
	var inChannel []chattest.Post
	for _, p := range mm.Posts() {
		if p.ChannelID == ch.ID {
			inChannel = append(inChannel, p)
		}
	}
	if len(inChannel) != 2 || !slices.Equal(ch.Pinned, []string{inChannel[0].ID}) ||
		!strings.Contains(inChannel[1].Message, "zed (no Mattermost user") || strings.Contains(inChannel[1].Message, "alice") {
		t.Fatalf("in the channel: %+v, pinned %q; want the report pinned and zed listed", inChannel, ch.Pinned)
	}
	link := "[#" + p1Channel + "](" + mm.URL + "/ops/channels/" + p1Channel + ")"
	if !strings.Contains(inChannel[0].Message, "Incident Channel: "+strings.ReplaceAll(link, "#", `\#`)) && !strings.Contains(inChannel[0].Message, "Incident Channel: "+link) {
		t.Errorf("the report's Communication section lacks %s:\n%s", link, inChannel[0].Message)
	}
	for _, p := range mm.Posts() {
		if p.ChannelID == team && p.RootID == "" && !strings.Contains(p.Message, "**Incident channel**: ") {
			t.Errorf("the team channel's root does not link the incident channel:\n%s", p.Message)
		}
	}

	res := openedP1()
	res.ID, res.Event, res.Status = res.IncidentID+".1.resolved", triaged.EventResolved, triaged.ReportResolved
	if th, err = sink.Deliver(context.Background(), Delivery{Report: res, Thread: th}); err != nil {
		t.Fatal(err)
	}
	if th.Incident.ArchiveAt == nil {
		t.Fatal("the resolution did not schedule the archive")
	}
	a, ok := AsArchiver(sink)
	if !ok {
		t.Fatal("a mattermost sink with archive_after is no Archiver")
	}
	for range 2 {
		if _, err := a.Archive(context.Background(), res.IncidentID, th); err != nil {
			t.Fatal(err)
		}
	}
	ch, _ = mm.Channel("ops", p1Channel)
	closing := 0
	for _, p := range mm.Posts() {
		if p.ChannelID == ch.ID && p.Props["triaged_part"] == "closing" {
			closing++
			if !strings.Contains(p.Message, "[postmortem.md]("+testExternalURL+"/api/v1/incidents/"+res.IncidentID+"/postmortem.md)") {
				t.Errorf("the closing message lacks the postmortem's link: %s", p.Message)
			}
		}
	}
	if !ch.Deleted || closing != 1 {
		t.Errorf("archived %v with %d closing messages, want archived with one", ch.Deleted, closing)
	}
}

// TestMattermostIncidentChannelForbidden: a bot without create_public_channel still posts the
// root and the report in the team channel, and the report says what permission is missing.
func TestMattermostIncidentChannelForbidden(t *testing.T) {
	mm := chattest.NewMattermost(t)
	team := mm.AddChannel("ops", "incidents")
	mm.Deny(chattest.PermCreateChannel)
	sink := mmIncidentSink(t, mm, &IncidentChannelConfig{})
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatalf("a missing permission failed the delivery: %v", err)
	}
	posts := mm.Posts()
	if th.Incident != nil || len(posts) != 2 || posts[0].ChannelID != team || posts[1].RootID != posts[0].ID {
		t.Fatalf("thread %+v, posts %+v; want the root and its reply in the team channel", th, posts)
	}
	if !strings.Contains(posts[1].Message, "the Mattermost bot lacks the create_public_channel permission") {
		t.Errorf("the report does not say what is missing:\n%s", posts[1].Message)
	}
	// P3: no channel asked for, no call made.
	if _, err := sink.Deliver(context.Background(), Delivery{Report: pendingP3()}); err != nil {
		t.Fatal(err)
	}
	if len(mm.CreatedChannels()) != 0 {
		t.Errorf("created %q", mm.CreatedChannels())
	}
}

// TestMattermostIncidentChannelFoundByName: an attempt whose record was lost (a crash before
// the outcome was saved) finds the channel by name and its marker, and posts nothing twice; an
// incident whose name another's channel holds gets the next name.
func TestMattermostIncidentChannelFoundByName(t *testing.T) {
	mm := chattest.NewMattermost(t)
	mm.AddChannel("ops", "incidents")
	sink := mmIncidentSink(t, mm, &IncidentChannelConfig{})
	first, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	again, err := sink.Deliver(context.Background(), Delivery{Report: openedP1(), MaybePosted: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := mm.CreatedChannels(); len(got) != 1 || again.Incident == nil || again.Incident.ID != first.Incident.ID {
		t.Fatalf("created %q; the retry got %+v, want the first channel %+v", got, again.Incident, first.Incident)
	}
	if n := len(mm.Posts()); n != 4 {
		t.Errorf("%d posts, want the root, its reply, the report in the channel and the note of whom it could not add, once each", n)
	}
	other := openedP1()
	other.IncidentID, other.ID = "other", "other.1.opened"
	th, err := sink.Deliver(context.Background(), Delivery{Report: other})
	if err != nil {
		t.Fatal(err)
	}
	if th.Incident == nil || th.Incident.Name != p1Channel+"-2" {
		t.Errorf("another incident of the same name got %+v, want %s-2", th.Incident, p1Channel)
	}
}

// A rate-limited channel creation must not hold back the team channel: the report is posted
// there, the delivery fails with the rate limit, and its retry creates the channel and posts
// there without posting in the team channel again.
func TestMattermostIncidentChannelCreateRateLimitTeamChannelFirst(t *testing.T) {
	mm := chattest.NewMattermost(t)
	team := mm.AddChannel("ops", "incidents")
	sink := mmIncidentSink(t, mm, &IncidentChannelConfig{})
	mm.FailOn(http.MethodPost, "/api/v4/channels", chattest.Reply{Status: http.StatusTooManyRequests, RetryAfter: "30"})
	rep := openedP1()
	th, err := sink.Deliver(context.Background(), Delivery{Report: rep})
	if _, limited := RetryAfter(err); !limited {
		t.Fatalf("want the rate limit for the retry, got %v", err)
	}
	teamPosts := func() (n int) {
		for _, p := range mm.Posts() {
			if p.ChannelID == team {
				n++
			}
		}
		return n
	}
	if th == nil || th.RootID == "" || th.Posted != rep.ID || teamPosts() != 2 {
		t.Fatalf("thread %+v, %d posts in the team channel; want the root and the report", th, teamPosts())
	}
	th, err = sink.Deliver(context.Background(), Delivery{Report: rep, Thread: th})
	if err != nil {
		t.Fatal(err)
	}
	ch, ok := mm.Channel("ops", p1Channel)
	if !ok || th.Incident == nil || th.Incident.ID != ch.ID || teamPosts() != 2 {
		t.Fatalf("retry: thread %+v, channel %v, %d posts in the team channel", th, ok, teamPosts())
	}
}

// A 429 on the incident channel's post, after the team channel's reply went out: the retry
// (not marked maybe-posted, a rate limit says nothing was posted) posts there only.
func TestMattermostIncidentPost429DoesNotRepeatTeamReply(t *testing.T) {
	mm := chattest.NewMattermost(t)
	team := mm.AddChannel("ops", "incidents")
	sink := mmIncidentSink(t, mm, &IncidentChannelConfig{})
	// The root and the reply in the team channel go through; the incident channel's post not.
	mm.FailOn(http.MethodPost, "/api/v4/posts", chattest.Reply{Status: http.StatusTooManyRequests, RetryAfter: "1", Skip: 2})
	rep := openedP1()
	th, err := sink.Deliver(context.Background(), Delivery{Report: rep})
	if _, limited := RetryAfter(err); !limited {
		t.Fatalf("want the rate limit, got %v", err)
	}
	if th, err = sink.Deliver(context.Background(), Delivery{Report: rep, Thread: th}); err != nil {
		t.Fatal(err)
	}
	n, in := 0, 0
	for _, p := range mm.Posts() {
		switch p.ChannelID {
		case team:
			n++
		case th.Incident.ID:
			in++
		}
	}
	if n != 2 || in == 0 {
		t.Errorf("%d posts in the team channel (want the root and the report once), %d in the incident channel", n, in)
	}
}

// TestMattermostIncidentChannelPrivateNameTaken: a private channel the bot is not in holds the
// incident's name. Mattermost refuses the name as taken and will not show the bot that channel
// (404 by name); it is not this incident's, so the incident gets the next name.
func TestMattermostIncidentChannelPrivateNameTaken(t *testing.T) {
	mm := chattest.NewMattermost(t)
	mm.AddChannel("ops", "incidents")
	private := mm.AddPrivateChannel("ops", p1Channel)
	sink := mmIncidentSink(t, mm, &IncidentChannelConfig{})
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	if th.Incident == nil || th.Incident.Name != p1Channel+"-2" || th.Incident.ID == private {
		t.Fatalf("incident channel %+v, want %s-2", th.Incident, p1Channel)
	}
	if got := mm.CreatedChannels(); !slices.Equal(got, []string{p1Channel + "-2"}) {
		t.Errorf("created %q", got)
	}
}

// TestMattermostIncidentChannelRestore: restoring an archived channel asks manage_team of the
// team, as Mattermost does, not manage_public_channel_properties; without it the error names
// manage_team.
func TestMattermostIncidentChannelRestore(t *testing.T) {
	mm := chattest.NewMattermost(t)
	mm.AddChannel("ops", "incidents")
	sink := mmIncidentSink(t, mm, &IncidentChannelConfig{ArchiveAfter: confval.Duration(time.Hour)})
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := AsArchiver(sink)
	u, ok := a.(Unarchiver)
	if !ok {
		t.Fatal("a mattermost sink is no Unarchiver")
	}
	archive := func() {
		t.Helper()
		if _, err := a.Archive(context.Background(), th.Incident.ID, th); err != nil {
			t.Fatal(err)
		}
		if ch, _ := mm.Channel("ops", p1Channel); !ch.Deleted {
			t.Fatal("not archived")
		}
	}
	archive()
	mm.Deny(chattest.PermManageProperties)
	if err := u.Unarchive(context.Background(), th); err != nil {
		t.Fatalf("restore without manage_public_channel_properties: %v", err)
	}
	if ch, _ := mm.Channel("ops", p1Channel); ch.Deleted {
		t.Fatal("not restored")
	}
	archive()
	mm.Deny(chattest.PermManageTeam)
	err = u.Unarchive(context.Background(), th)
	var ms *missingScopeError
	if !errors.As(err, &ms) || ms.Scope != "manage_team" {
		t.Fatalf("restore without manage_team: %v, want the missing manage_team", err)
	}
}

// TestMattermostIncidentChannelNames: whatever the template gives, the names tried are ones
// Mattermost takes: a run of '_' is one (a name "__" splits into two user ids is a direct
// message's), a group message's name (40 hex digits) is passed over, and a name under 2
// characters is the template's mistake, said when the sink is planned.
func TestMattermostIncidentChannelNames(t *testing.T) {
	dm := strings.Repeat("a", 26) + "__" + strings.Repeat("b", 26)
	gm := strings.Repeat("0123456789", 4)
	for _, tc := range []struct{ template, want string }{
		{dm, strings.Repeat("a", 26) + "_" + strings.Repeat("b", 26)},
		{"Incident___{{.Service}}", "incident_checkout"},
		{gm, gm + "-2"},
	} {
		t.Run(tc.template, func(t *testing.T) {
			mm := chattest.NewMattermost(t)
			mm.AddChannel("ops", "incidents")
			sink := mmIncidentSink(t, mm, &IncidentChannelConfig{NameTemplate: tc.template})
			th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
			if err != nil {
				t.Fatal(err)
			}
			if th.Incident == nil || th.Incident.Name != tc.want {
				t.Fatalf("incident channel %+v, want %s", th.Incident, tc.want)
			}
		})
	}
	_, err := PlanSink(SinkConfig{Type: "mattermost", URL: "https://mm.example", TokenFile: "t", Channel: "ops/incidents",
		IncidentChannel: &IncidentChannelConfig{NameTemplate: "#X"}})
	if err == nil || !strings.Contains(err.Error(), `incident_channel.name_template: try on a sample report: the name template gave "#X", which makes the channel name "x": shorter than the 2 characters`) {
		t.Errorf("a one-letter name: %v", err)
	}
}

// TestMattermostChannelName: the names made under Mattermost's rules, the suffixes for a taken
// name included, are all valid there, and fit 64 characters.
func TestMattermostChannelName(t *testing.T) {
	p, errs := newChannelPolicyFor(&IncidentChannelConfig{NameTemplate: "{{.AlertName}}"}, mmChannelRules)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for in, want := range map[string]string{
		"a__b":                          "a_b",
		"x_ _y":                         "x_-_y",
		"__Checkout__Down__":            "checkout_down",
		strings.Repeat("ab_", 40):       strings.Repeat("ab_", 21) + "a",
		strings.Repeat("a", 63) + "__b": strings.Repeat("a", 63),
	} {
		rep := openedP1()
		rep.AlertName = in
		got, err := p.channelName(rep)
		if err != nil || got != want {
			t.Errorf("channelName(%q) = %q, %v; want %q", in, got, err, want)
			continue
		}
		for _, name := range channelNames(got, mmMaxChannelName, "x__y_"+rep.IncidentID, "") {
			if !mmNameOK(name) {
				t.Errorf("channelNames(%q) tries %q, which Mattermost refuses", got, name)
			}
		}
	}
}

// A 429 while adding the people was taken for a refusal: the on-call was listed as not added
// and the channel marked ready, so nobody tried again. Now the delivery fails as rate-limited
// with the channel not ready, and its retry adds everyone without posting the report again.
func TestMattermostIncidentChannelSetupRetriedAfterRateLimit(t *testing.T) {
	mm := chattest.NewMattermost(t)
	mm.AddChannel("ops", "incidents")
	mm.AddUser(chattest.MMUser{ID: "ucarol", Username: "carol"})
	mm.AddUser(chattest.MMUser{ID: "ualice", Username: "alice"})
	sink := mmIncidentSink(t, mm, &IncidentChannelConfig{})
	rep := openedP1()
	rep.Owners = []string{"alice"}
	mm.FailOn(http.MethodGet, "/api/v4/users/username/carol", chattest.Reply{Status: http.StatusTooManyRequests, RetryAfter: "1"})
	th, err := sink.Deliver(context.Background(), Delivery{Report: rep})
	if _, limited := RetryAfter(err); err == nil || !limited {
		t.Fatalf("delivery: %v, want a rate-limited failure to retry", err)
	}
	if th == nil || th.Incident == nil || th.Incident.Ready || th.Incident.Posted != rep.ID {
		t.Fatalf("thread %+v, want the channel not ready, the report recorded as posted in it", th)
	}
	if th, err = sink.Deliver(context.Background(), Delivery{Report: rep, Thread: th}); err != nil {
		t.Fatal(err)
	}
	ch, _ := mm.Channel("ops", p1Channel)
	if want := []string{"ualice", chattest.MattermostBotID, "ucarol"}; !slices.Equal(ch.Members, want) || !th.Incident.Ready {
		t.Errorf("members %q (ready %v), want %q", ch.Members, th.Incident.Ready, want)
	}
	reports := 0
	for _, p := range mm.Posts() {
		if p.ChannelID == ch.ID && p.Props["triaged_part"] == "report" {
			reports++
		}
	}
	if reports != 1 || len(ch.Pinned) != 1 {
		t.Errorf("the channel holds the report %d times, %d pinned; want once, pinned", reports, len(ch.Pinned))
	}
}
