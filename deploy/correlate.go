package deploy

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/triaged/triaged"
)

// Correlation is what the index knows about the deploys before an alert.
type Correlation struct {
	// Changes are the deploys of the service and its dependencies in the window before the
	// alert started, nearest first.
	Changes []triaged.Change
	// Summary states the finding in one line, including when there is none: the absence of
	// deploys is evidence too, unless Incomplete says why it is not.
	Summary string
	// Complete is false while the index is still loading the stream: then the absence of a
	// deploy proves nothing, and Summary says so.
	Complete bool
	// Saturated lists the services queried whose events in the window may have been dropped
	// by the index's bounds, and IndexFull how many events of services the index did not
	// track it refused: any of them may have been of a service queried.
	Saturated []Saturation
	IndexFull int
	// Incomplete says in words why Changes may lack deploys of the window ("" when they
	// cannot): the index is loading, saturated, or full. Summary says it too.
	Incomplete string
}

// Saturation is a service whose events the index's bounds dropped.
type Saturation struct {
	Service string
	// Dropped counts the events of the service (in the environments queried) that the
	// bounds dropped, within the index's max age: older ones, but not all older than the
	// window.
	Dropped int
}

// Query asks the index for the deploys that preceded an alert.
type Query struct {
	// Service is the affected service; Dependencies are services it depends on, whose deploys
	// are recent changes too.
	Service      string
	Dependencies []string
	// Environment, when set, must match an event's environment (case-insensitively); an event
	// without one matches every environment.
	Environment string
	// AlertStart is when the alert started; deploys after it are ignored.
	AlertStart time.Time
	// Window is how far back to look (0: DefaultWindow); deploys within SuspectWindow of the
	// alert are marked suspect (0: DefaultSuspectWindow).
	Window, SuspectWindow time.Duration
}

// Correlate returns the deploys of the query's service and of its dependencies that happened in
// the window before the alert started (inclusive at both ends), nearest first, each with the
// whole minutes before the alert, and marked suspect when within the suspect window.
func (ix *Index) Correlate(q Query) Correlation {
	service, environment, alertStart := q.Service, q.Environment, q.AlertStart
	window, suspectWindow := q.Window, q.SuspectWindow
	if window <= 0 {
		window = DefaultWindow
	}
	if suspectWindow <= 0 {
		suspectWindow = DefaultSuspectWindow
	}
	services := []string{service}
	for _, d := range q.Dependencies {
		if d != "" && !slices.Contains(services, d) {
			services = append(services, d)
		}
	}
	from := alertStart.Add(-window)

	type found struct {
		e     Event
		order int // position of its service in services, for a stable tie-break
	}
	var hits []found
	var saturated []Saturation
	ix.mu.RLock()
	for order, svc := range services {
		dropped := 0
		for env, sr := range ix.store.services[svc] {
			if environment != "" && env != "" && !strings.EqualFold(environment, env) {
				continue
			}
			// Bounds drop a series' oldest first: if the newest dropped is in the window or
			// after it, the window may lack some.
			if sr.dropped > 0 && !sr.droppedThrough.Before(from) {
				dropped += sr.dropped
			}
			i, _ := slices.BinarySearchFunc(sr.events, from, func(x *Event, t time.Time) int { return x.Time.Compare(t) })
			for _, e := range sr.events[i:] {
				if e.Time.After(alertStart) {
					break
				}
				hits = append(hits, found{*e, order})
			}
		}
		if dropped > 0 {
			saturated = append(saturated, Saturation{Service: svc, Dropped: dropped})
		}
	}
	refused := 0
	if ix.store.refused > 0 && !ix.store.refusedThrough.Before(from) {
		refused = ix.store.refused
	}
	ix.mu.RUnlock()

	slices.SortStableFunc(hits, func(a, b found) int {
		return cmp.Or(b.e.Time.Compare(a.e.Time), cmp.Compare(a.order, b.order),
			cmp.Compare(a.e.Environment, b.e.Environment), cmp.Compare(a.e.Version, b.e.Version))
	})
	c := Correlation{Changes: make([]triaged.Change, 0, len(hits)), Complete: ix.Ready(), Saturated: saturated, IndexFull: refused}
	perService := make([]int, len(services))
	statuses := map[string]int{}
	suspects := 0
	for _, h := range hits {
		before := alertStart.Sub(h.e.Time)
		ch := triaged.Change{
			Service: h.e.Service, Environment: h.e.Environment, Version: h.e.Version, Commit: h.e.Commit,
			Author: h.e.Author, URL: h.e.URL, Status: h.e.Status, Time: h.e.Time,
			MinutesBefore: int(before / time.Minute),
			Suspect:       before <= suspectWindow,
		}
		if ch.Suspect {
			suspects++
		}
		perService[h.order]++
		statuses[h.e.Status]++
		c.Changes = append(c.Changes, ch)
	}
	c.Summary = summarize(services, environment, window, suspectWindow, len(hits), perService, suspects, statuses)
	bounded := boundsText(saturated, refused, ix.opts.MaxServices)
	switch {
	case bounded != "" && len(hits) == 0:
		// Not "no deploys": the window's may be the ones dropped.
		c.Summary = bounded + "; deploys in the " + fmtDuration(window) + " before the alert may be missing"
	case bounded != "":
		c.Summary += "; " + bounded + "; the changes shown may be incomplete"
	}
	var why []string
	if !c.Complete {
		c.Summary += " (the deploy index is still loading, so this may be incomplete)"
		why = append(why, "the deploy index is still loading")
	}
	if bounded != "" {
		why = append(why, bounded)
	}
	c.Incomplete = strings.Join(why, "; ")
	return c
}

// boundsText says what the bounds dropped that a window may lack, e.g. "deploy index saturated
// for checkout: 5,912 older events dropped"; "" when nothing.
func boundsText(saturated []Saturation, refused, maxServices int) string {
	var parts []string
	switch len(saturated) {
	case 0:
	case 1:
		parts = append(parts, fmt.Sprintf("deploy index saturated for %s: %s dropped", saturated[0].Service, olderEvents(saturated[0].Dropped)))
	default:
		each := make([]string, len(saturated))
		for i, s := range saturated {
			each[i] = fmt.Sprintf("%s (%s dropped)", s.Service, olderEvents(s.Dropped))
		}
		parts = append(parts, "deploy index saturated for "+strings.Join(each, ", "))
	}
	if refused > 0 {
		parts = append(parts, fmt.Sprintf("deploy index full at %s services: %s of services not tracked refused",
			thousands(maxServices), plural(refused, "event")))
	}
	return strings.Join(parts, "; ")
}

func olderEvents(n int) string {
	if n == 1 {
		return "1 older event"
	}
	return thousands(n) + " older events"
}

// thousands writes n with a comma every three digits: 5,912.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// summarize writes the finding as an on-call engineer would say it, e.g. "no deploys of
// checkout or its dependencies (payments, postgres) in the 2h before the alert".
func summarize(services []string, env string, window, suspectWindow time.Duration, n int, perService []int, suspects int, statuses map[string]int) string {
	var b strings.Builder
	svc, deps := services[0], services[1:]
	to := ""
	if env != "" {
		to = " to " + env
	}
	in := " in the " + fmtDuration(window) + " before the alert"
	if n == 0 {
		b.WriteString("no deploys of " + svc)
		if len(deps) > 0 {
			b.WriteString(" or its dependencies (" + strings.Join(deps, ", ") + ")")
		}
		b.WriteString(to + in)
		return b.String()
	}
	fmt.Fprintf(&b, "%s of %s", plural(n, "deploy"), svc)
	if len(deps) > 0 {
		b.WriteString(" and its dependencies (" + strings.Join(deps, ", ") + ")")
	}
	b.WriteString(to + in)
	if len(deps) > 0 {
		var parts []string
		for i, k := range perService {
			if k > 0 {
				parts = append(parts, fmt.Sprintf("%d of %s", k, services[i]))
			}
		}
		b.WriteString(": " + strings.Join(parts, ", ") + ";")
	} else {
		b.WriteString(",")
	}
	if suspects == 0 {
		fmt.Fprintf(&b, " none suspect (within %s)", fmtDuration(suspectWindow))
	} else {
		fmt.Fprintf(&b, " %d suspect (within %s)", suspects, fmtDuration(suspectWindow))
	}
	// A report has no status per change, so the summary says when a deploy did not succeed.
	if statuses[StatusSucceeded] != n {
		var parts []string
		for _, s := range Statuses {
			if k := statuses[s]; k > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", k, strings.ReplaceAll(s, "_", " ")))
			}
		}
		b.WriteString("; " + strings.Join(parts, ", "))
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return thousands(n) + " " + word + "s"
}
