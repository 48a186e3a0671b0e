package notify

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/slacktest"
)

// A 429 on an invitation (users.list and conversations.invite are rate-limited tightly) was taken
// for a refusal: the on-call was listed as not invited and the channel marked ready, so nobody
// tried again. Now the delivery fails as rate-limited with the channel not ready, and its retry
// invites everyone without posting the report in the channel a second time.
func TestSlackIncidentChannelSetupRetriedAfterRateLimit(t *testing.T) {
	for _, method := range []string{"conversations.invite", "users.list", "pins.add"} {
		t.Run(method, func(t *testing.T) {
			srv := incidentSlack(t)
			sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
			rep := openedP1()
			srv.FailNext(method, slacktest.Failure{Status: 429, RetryAfter: 1})
			th, err := sink.Deliver(context.Background(), Delivery{Report: rep})
			if _, limited := RetryAfter(err); err == nil || !limited {
				t.Fatalf("delivery: %v, want a rate-limited failure to retry", err)
			}
			if th == nil || th.Incident == nil || th.Incident.Ready || th.Incident.Posted != rep.ID {
				t.Fatalf("thread %+v, want the channel not ready, the report recorded as posted in it", th)
			}
			// The outbox's retry of a refusal: not marked maybe-posted.
			th, err = sink.Deliver(context.Background(), Delivery{Report: rep, Thread: th})
			if err != nil {
				t.Fatal(err)
			}
			ch, _ := srv.Channel(p1Channel)
			if want := []string{"UALICE", "UBOB", slacktest.BotUserID, "UCAROL", "UDAVE"}; !slices.Equal(ch.Members, want) || !th.Incident.Ready {
				t.Errorf("members %q (ready %v), want %q", ch.Members, th.Incident.Ready, want)
			}
			var reports, notes int // everyone is found: no note
			for _, m := range srv.Roots(p1Channel) {
				if metaOf(m, "report_id") == rep.ID {
					reports++
				}
				if strings.Contains(blocksText(m), "Not invited") {
					notes++
				}
			}
			if reports != 1 || notes != 0 || len(ch.Pins) != 1 {
				t.Errorf("the channel holds the report %d times, %d notes of people not invited, %d pins; want 1, 0, 1", reports, notes, len(ch.Pins))
			}
		})
	}
}

// One member of a user group who cannot be invited (deactivated, a guest, gone) kept the rest of
// the group out of the channel.
func TestSlackIncidentChannelGroupMemberRefusedOthersInvited(t *testing.T) {
	srv := slacktest.New(t, testToken, "incidents")
	srv.AddUser(slacktest.User{ID: "UCAROL", Name: "carol"})
	srv.AddUser(slacktest.User{ID: "UDAVE", Name: "dave"})
	srv.AddGroup("payments", "UGONE", "UDAVE")
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()}); err != nil {
		t.Fatal(err)
	}
	ch, _ := srv.Channel(p1Channel)
	if !slices.Contains(ch.Members, "UDAVE") {
		t.Errorf("members %q: dave, the group's member after the refused one, not invited", ch.Members)
	}
	msgs := srv.Roots(p1Channel)
	if note := blocksText(msgs[len(msgs)-1]); !strings.Contains(note, "payments (user_not_found)") {
		t.Errorf("the note does not list the refused member's group: %s", note)
	}
}

// A channel a person archived before the archiver came: the closing message is refused with
// is_archived, which is the archive done, not an error to fix by hand.
func TestSlackIncidentChannelArchivedByAPersonFirst(t *testing.T) {
	srv := incidentSlack(t)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{ArchiveAfter: confval.Duration(time.Hour)}, nil)
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext("chat.postMessage", slacktest.Failure{Error: "is_archived"})
	a, _ := AsArchiver(sink)
	th, err = a.Archive(context.Background(), openedP1().IncidentID, th)
	if err != nil || th.Incident == nil || !th.Incident.Archived {
		t.Errorf("archive: %v, channel %+v; want it recorded as archived", err, th.Incident)
	}
}

// A crash between conversations.create and recording the channel, in a workspace of more
// channels than conversations.list's pages were read for: the retry, refused name_taken, did
// not find the bot's own channel and created a "-2", a second channel for the incident. It looks
// among the bot's channels first now.
func TestSlackIncidentChannelFoundInALargeWorkspace(t *testing.T) {
	srv := incidentSlack(t)
	srv.AddOthersChannels("team", slackListPages*1000)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	var saved []*Thread
	save := func(_ context.Context, th *Thread) error { saved = append(saved, th); return nil }
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1(), Save: save}); err != nil {
		t.Fatal(err)
	}
	if len(saved) == 0 || saved[0].Incident.Claim != p1Channel {
		t.Fatalf("the name was not claimed first: %+v", saved)
	}
	// The process died after the claim and the create: its record holds only the claim.
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1(), Thread: saved[0], MaybePosted: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := srv.Channel(p1Channel)
	if th.Incident == nil || th.Incident.ID != c.ID || !slices.Equal(srv.Created(), []string{p1Channel}) {
		t.Errorf("the retry took %+v; channels created %q; want the one channel %s", th.Incident, srv.Created(), c.ID)
	}
}

// A handle is a user's name first, a display name only when one person has it: a display name
// matching a user listed earlier invited the wrong person, and two people sharing the display
// name invited one of them at random.
func TestSlackHandleResolution(t *testing.T) {
	srv := slacktest.New(t, testToken, "incidents")
	srv.AddUser(slacktest.User{ID: "UIMPOSTOR", Name: "carol.smith", DisplayName: "carol"})
	srv.AddUser(slacktest.User{ID: "UCAROL", Name: "carol"})
	srv.AddUser(slacktest.User{ID: "UBOB1", Name: "robert", DisplayName: "bob"})
	srv.AddUser(slacktest.User{ID: "UBOB2", Name: "bobby", DisplayName: "bob"})
	srv.AddUser(slacktest.User{ID: "UALICE", Name: "a.jones", DisplayName: "alice"})
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()}); err != nil { // carol, alice, @bob, payments
		t.Fatal(err)
	}
	ch, _ := srv.Channel(p1Channel)
	if want := []string{"UALICE", slacktest.BotUserID, "UCAROL"}; !slices.Equal(ch.Members, want) {
		t.Errorf("members %q, want %q: carol by name, alice by her one display name, bob nobody", ch.Members, want)
	}
	msgs := srv.Roots(p1Channel)
	if note := blocksText(msgs[len(msgs)-1]); !strings.Contains(note, "@bob (no Slack user") {
		t.Errorf("the note does not list the ambiguous @bob: %s", note)
	}
}

// A workspace where only admins may create channels refuses with restricted_action: the report
// says what to change, and the team channel has the report.
func TestSlackIncidentChannelRestricted(t *testing.T) {
	srv := incidentSlack(t)
	sink := openIncidentSink(t, srv, &IncidentChannelConfig{}, nil)
	srv.FailNext("conversations.create", slacktest.Failure{Error: "restricted_action"})
	th, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()})
	if err != nil {
		t.Fatal(err)
	}
	root := srv.Roots("incidents")
	if th == nil || th.RootID == "" || len(root) != 1 || len(srv.Created()) != 0 {
		t.Fatalf("thread %+v, team channel %d roots, channels %q: want the report in the team channel only", th, len(root), srv.Created())
	}
	if text := blocksText(srv.Replies("incidents", th.RootID)[0]); !strings.Contains(text, "lets only some members create channels") {
		t.Errorf("the report does not say why there is no incident channel:\n%s", text)
	}
}
