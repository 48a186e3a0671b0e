package notify

import (
	"net/url"
	"slices"
	"strings"

	"github.com/triaged/triaged/internal/fielderr"
)

// The settings of the Mattermost, Teams and generic webhook sinks, checked as PlanSink asks:
// required settings present, URLs http(s), secret files named (not read: they may exist only
// where the daemon runs), settings the kind does not use refused rather than ignored.

// hookSettings names each setting of SinkConfig with its value, for the checks below.
func hookSettings(c SinkConfig) []struct{ field, value string } {
	return []struct{ field, value string }{
		{"path", c.Path}, {"url", c.URL}, {"url_file", c.URLFile}, {"token_file", c.TokenFile},
		{"channel", c.Channel}, {"secret_file", c.SecretFile}, {"template", c.Template},
	}
}

// checkHook checks c for a sink of type kind that requires the settings in need and also takes
// those in may.
func checkHook(c SinkConfig, kind string, need, may []string) []*fielderr.Error {
	var errs []*fielderr.Error
	for _, s := range hookSettings(c) {
		required := slices.Contains(need, s.field)
		switch {
		case required && strings.TrimSpace(s.value) == "":
			errs = append(errs, fielderr.Errorf(s.field, "a %s sink needs %s", kind, s.field))
		case !required && !slices.Contains(may, s.field) && s.value != "":
			errs = append(errs, fielderr.Errorf(s.field, "a %s sink takes no %s", kind, s.field))
		case s.field == "url" && s.value != "":
			if u, err := url.Parse(s.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fielderr.Errorf("url", "%q is not an http or https URL with a host", s.value))
			} else if u.User != nil {
				errs = append(errs, fielderr.Errorf("url", "%q holds credentials; put them in a file (token_file, secret_file)", u.Redacted()))
			}
		}
	}
	return errs
}

func checkMattermost(c SinkConfig) []*fielderr.Error {
	errs := checkHook(c, "mattermost", []string{"url", "token_file"}, []string{"channel", "template"})
	if ch := strings.TrimPrefix(c.Channel, "#"); ch != "" && !mmChannelID.MatchString(ch) {
		if team, name, ok := strings.Cut(ch, "/"); !ok || team == "" || name == "" || strings.Contains(name, "/") {
			errs = append(errs, fielderr.Errorf("channel", "%q is neither a channel id (26 letters and digits) nor team/channel-name", c.Channel))
		}
	}
	if c.IncidentChannel != nil {
		if team, _, ok := strings.Cut(strings.TrimPrefix(c.Channel, "#"), "/"); !ok || team == "" {
			errs = append(errs, fielderr.Errorf("incident_channel", "needs the team to create channels in: set the sink's channel as team/channel-name"))
		}
	}
	_, perrs := newChannelPolicyFor(c.IncidentChannel, mmChannelRules)
	return append(errs, perrs...)
}

func checkMattermostWebhook(c SinkConfig) []*fielderr.Error {
	return checkHook(c, "mattermost_webhook", []string{"url_file"}, []string{"channel", "template"})
}

func checkTeams(c SinkConfig) []*fielderr.Error {
	return checkHook(c, "teams", []string{"url_file"}, []string{"template"})
}

func checkWebhook(c SinkConfig) []*fielderr.Error {
	return checkHook(c, "webhook", []string{"url", "secret_file"}, nil)
}
