package deploy

import (
	"cmp"
	"fmt"
	"slices"
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
	// deploys is evidence too.
	Summary string
	// Complete is false while the index is still loading the stream: then the absence of a
	// deploy proves nothing, and Summary says so.
	Complete bool
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
	ix.mu.RLock()
	for order, svc := range services {
		list := ix.byService[svc]
		i, _ := slices.BinarySearchFunc(list, from, func(x *Event, t time.Time) int { return x.Time.Compare(t) })
		for _, e := range list[i:] {
			if e.Time.After(alertStart) {
				break
			}
			if environment != "" && e.Environment != "" && !strings.EqualFold(environment, e.Environment) {
				continue
			}
			hits = append(hits, found{*e, order})
		}
	}
	ix.mu.RUnlock()

	slices.SortStableFunc(hits, func(a, b found) int {
		return cmp.Or(b.e.Time.Compare(a.e.Time), cmp.Compare(a.order, b.order), cmp.Compare(a.e.Version, b.e.Version))
	})
	c := Correlation{Changes: make([]triaged.Change, 0, len(hits)), Complete: ix.Ready()}
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
	if !c.Complete {
		c.Summary += " (the deploy index is still loading, so this may be incomplete)"
	}
	return c
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
	return fmt.Sprintf("%d %ss", n, word)
}
