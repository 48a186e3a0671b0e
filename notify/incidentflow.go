package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/triaged/triaged"
)

// channelService is what a chat sink does for incident channels in its own API.
type channelService interface {
	// createChannel creates the incident's channel or finds the one an earlier attempt
	// created. claimed is the name an earlier attempt recorded; claim records a name before
	// it is asked for.
	createChannel(ctx context.Context, rep *triaged.Report, claimed string, claim func(ctx context.Context, name string) error) (*IncidentChannel, error)
	// mark sets the marker in the purpose of a channel created without it.
	mark(ctx context.Context, rep *triaged.Report, ic *IncidentChannel) error
	unarchive(ctx context.Context, ic *IncidentChannel) error
	// scopeHint says, for a report, which scope or permission is missing.
	scopeHint(scope string) string
}

// channelKeeper is the part of incident channels every chat sink shares: when a channel is
// opened, recorded, kept, scheduled for archiving.
type channelKeeper struct {
	policy   *channelPolicy
	metrics  *ChannelMetrics
	external string // --web.external-url, no trailing slash
	log      *slog.Logger
	sink     string
	service  string // "slack", "mattermost": the log lines' prefix
}

// incident opens the incident's channel when its severity asks for one and it has none, and
// records it (d.Save) before anything announces it. It returns the thread to go on with and the
// channel as the report shows it. A refusal no retry mends (a missing scope) leaves the
// incident without a channel: logged, counted, shown in the report; the team channel gets it all.
func (k *channelKeeper) incident(ctx context.Context, svc channelService, d Delivery, th *Thread) (*Thread, *triaged.IncidentChannel, error) {
	rep := d.Report
	if k == nil {
		return th, nil, nil
	}
	var ic *IncidentChannel
	if th != nil {
		ic = th.Incident.clone()
	}
	if ic != nil && ic.ID == "" && ic.None != "" {
		return th, &triaged.IncidentChannel{Unavailable: ic.None}, nil
	}
	recorded := ic != nil && ic.ID != ""
	if !recorded {
		if !k.policy.wants(rep) {
			return th, nil, nil
		}
		claimed := ""
		if ic != nil {
			claimed = ic.Claim
		}
		// Each name is recorded before it is asked for: the channel an attempt creates and
		// cannot mark is then known, after any crash, to be this incident's, and no other's.
		claim := func(ctx context.Context, name string) error {
			if d.Save == nil {
				return nil
			}
			next := withChannel(th, &IncidentChannel{Claim: name})
			if err := d.Save(ctx, next); err != nil {
				return fmt.Errorf("record the incident channel's name %s: %w", name, err)
			}
			th = next
			return nil
		}
		var err error
		if ic, err = svc.createChannel(ctx, rep, claimed, claim); err != nil {
			if !IsPermanent(err) {
				return th, nil, fmt.Errorf("open the incident channel: %w", err)
			}
			why := k.unavailable(svc, rep, err)
			var taken *namesTakenError
			if errors.As(err, &taken) {
				// For good: the thread the outbox records says so to the later reports.
				th = withChannel(th, &IncidentChannel{None: why})
			}
			return th, &triaged.IncidentChannel{Unavailable: why}, nil
		}
		th = withChannel(th, ic)
		if d.Save != nil {
			if err := d.Save(ctx, th); err != nil {
				return th, nil, fmt.Errorf("record the incident channel #%s: %w", ic.Name, err)
			}
		}
	}
	if recorded && ic.Unmarked {
		if err := svc.mark(ctx, rep, ic); err != nil {
			k.log.Warn(k.service+": the incident channel's purpose still lacks the incident's marker; tried again with the next report",
				"sink", k.sink, "incident", rep.IncidentID, "channel", ic.Name, "err", err)
		} else {
			ic.Unmarked = false
		}
	}
	if ic.Archived && rep.Event != triaged.EventResolved {
		if err := svc.unarchive(ctx, ic); err != nil {
			// Slack lets no bot token unarchive: the people are told where the channel is,
			// and the team channel has the reports.
			k.log.Warn(k.service+": the incident reopened and its channel is archived; it could not be unarchived, the reports go to the team channel",
				"sink", k.sink, "incident", rep.IncidentID, "channel", ic.Name, "err", err)
			return th, &triaged.IncidentChannel{Name: "#" + ic.Name, URL: ic.URL,
				Unavailable: "the incident's channel #" + ic.Name + " is archived; unarchive it to use it again"}, nil
		}
		ic.Archived = false
	}
	ic.ArchiveAt = nil // a report after the resolution: the incident reopened
	if rep.Event == triaged.EventResolved && k.policy.archiveAfter > 0 && !ic.Archived {
		at := time.Now().Add(k.policy.archiveAfter).UTC()
		ic.ArchiveAt = &at
	}
	return withChannel(th, ic), ic.shown(), nil
}

// unavailable logs and counts why the incident got no channel, and says it for the report.
func (k *channelKeeper) unavailable(svc channelService, rep *triaged.Report, err error) string {
	var ms *missingScopeError
	if errors.As(err, &ms) {
		k.metrics.open(k.sink, channelMissingScope)
		k.log.Error(k.service+": incident channel not created: a scope or permission is missing; the reports go to the team channel only",
			"sink", k.sink, "incident", rep.IncidentID, "missing_scope", ms.Scope,
			"fix", "grant it (Slack: the scopes of examples/slack-app-manifest.yml, then reinstall the app; Mattermost: the bot's role), see README \"Incident channels\"", "err", err)
		return svc.scopeHint(ms.Scope)
	}
	k.metrics.open(k.sink, channelFailed)
	k.log.Error(k.service+": incident channel not created; the reports go to the team channel only", "sink", k.sink, "incident", rep.IncidentID, "err", err)
	return "refused: " + err.Error()
}
