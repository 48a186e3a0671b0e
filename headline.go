package triaged

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of the headline: label values are cut so that one long value cannot push the rest of
// the line out of a chat preview or a pager's subject.
const (
	headlineMaxValue = 40  // runes of the alertname or the service
	headlineMaxEnv   = 24  // runes of the environment
	headlineMax      = 200 // runes of the whole line, a last resort
)

// Headline is the one line every report of an incident starts with, the workflow's initial
// notification, so that the incident is recognisable in a channel by its first line:
//
//	P2 HIGH · TargetDown · payments-api (staging) · 3 alerts firing · no deploys in 2h
//
// severity and name, alertname, service (environment), the alerts ("2 of 3 alerts firing",
// "resolved after 42m", "reopened, 1 alert firing", "flapping") and what the deploy lookup found
// ("1 suspect deploy", "no deploys in 2h"; left out when it was not collected). It is plain text
// on one line, at most 200 characters, with control characters replaced: a sink escapes it for
// its own syntax.
func Headline(r *Report) string {
	if r == nil {
		return ""
	}
	sev := "P? UNKNOWN"
	if r.Severity.Valid() {
		sev = r.Severity.String() + " " + cmpOr(clean(r.SeverityName), r.Severity.Name())
	}
	parts := []string{sev, cut(cmpOr(clean(r.AlertName), "alert"), headlineMaxValue)}
	where := cut(cmpOr(clean(r.Service), "unknown service"), headlineMaxValue)
	if env := clean(r.Environment); env != "" {
		env = cut(env, headlineMaxEnv)
		if r.EnvironmentAssumed {
			env += ", assumed" // never silently the default environment
		}
		where += " (" + env + ")"
	}
	parts = append(parts, where)
	if s := alertsPhrase(r); s != "" {
		parts = append(parts, s)
	}
	if s := changesPhrase(r); s != "" {
		parts = append(parts, s)
	}
	return cut(strings.Join(parts, " · "), headlineMax)
}

// alertsPhrase says where the incident's alerts stand.
func alertsPhrase(r *Report) string {
	c := r.Counts()
	firing, resolved := c.Firing, c.Resolved
	count := fmt.Sprintf("%d %s firing", firing, pluralWord(firing, "alert", "alerts"))
	if resolved > 0 {
		count = fmt.Sprintf("%d of %d %s firing", firing, firing+resolved, pluralWord(firing+resolved, "alert", "alerts"))
	}
	switch {
	case r.Event == EventResolved:
		if r.EndedAt != nil && !r.StartedAt.IsZero() && !r.EndedAt.Before(r.StartedAt) {
			return "resolved after " + HumanDuration(r.EndedAt.Sub(r.StartedAt))
		}
		return "resolved"
	case r.Flapping:
		return "flapping"
	case r.Event == EventReopened:
		if firing > 0 {
			return "reopened, " + count
		}
		return "reopened"
	case firing+resolved == 0:
		return ""
	}
	return count
}

// changesPhrase says what the deploy lookup found, in a few words, or "" when it did not run:
// a headline must not claim "no deploys" for a lookup that never happened, nor for one that
// could not see every deploy.
func changesPhrase(r *Report) string {
	if slices.Contains(r.Pending, SectionRecentChanges) || (r.RecentChanges == nil && r.RecentChangesSummary == "") {
		return ""
	}
	in := ""
	if r.RecentChangesWindowMinutes > 0 {
		in = " in " + HumanDuration(time.Duration(r.RecentChangesWindowMinutes)*time.Minute)
	}
	n, suspects := len(r.RecentChanges), 0
	for _, c := range r.RecentChanges {
		if c.Suspect {
			suspects++
		}
	}
	switch {
	case suspects > 0:
		return fmt.Sprintf("%d suspect %s", suspects, pluralWord(suspects, "deploy", "deploys"))
	case r.RecentChangesIncomplete != "" && n > 0:
		// Not "none suspect": the suspects may be among what the index could not show.
		return fmt.Sprintf("%d %s%s, index incomplete", n, pluralWord(n, "deploy", "deploys"), in)
	case r.RecentChangesIncomplete != "":
		return "deploys unknown, index incomplete"
	case n > 0:
		return fmt.Sprintf("%d %s%s, none suspect", n, pluralWord(n, "deploy", "deploys"), in)
	case in == "":
		return "no recent deploys"
	}
	return "no deploys" + in
}

// HumanDuration rounds d for people: "45s", "42m", "1h5m", "26h".
func HumanDuration(d time.Duration) string {
	if r := d.Round(time.Second); r < time.Minute {
		return r.String()
	}
	s := strings.TrimSuffix(d.Round(time.Minute).String(), "0s") // "42m0s", "1h5m0s", "1h0m0s"
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func cmpOr(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// clean puts a label value on one line, with its runs of white space as one space, and replaces
// control and bidirectional formatting characters, which could hide or reorder what a reader
// sees.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r), r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069,
			r == 0x200e, r == 0x200f, r == 0x061c:
			return utf8.RuneError
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// cut keeps at most n runes of s, marking the cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// AlertCounts are how many of an incident's member alerts fire and how many have resolved.
type AlertCounts struct{ Firing, Resolved int }

// Total is the number of member alerts.
func (c AlertCounts) Total() int { return c.Firing + c.Resolved }

// Counts returns AlertsFiring and AlertsResolved, or, for a report made before they existed
// (both zero), counts its Alerts by status.
func (r *Report) Counts() AlertCounts {
	c := AlertCounts{r.AlertsFiring, r.AlertsResolved}
	if c.Total() > 0 {
		return c
	}
	for _, a := range r.Alerts {
		if a.Status == StatusFiring {
			c.Firing++
		} else {
			c.Resolved++
		}
	}
	return c
}
