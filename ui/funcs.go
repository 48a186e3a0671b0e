package ui

import (
	"html/template"
	"net/url"
	"strings"
	"time"
)

// funcs are the template functions every page may use; base is Options.Base.
func funcs(base string) template.FuncMap {
	return template.FuncMap{
		"href": href,
		// site is a path on this site as the browser reaches it: under base. Only the pages'
		// own paths go through it; a path an alert carries is left as the alert wrote it.
		"site":     func(path string) string { return base + path },
		"navTabs":  func() []navTab { return nav },
		"sevClass": sevClass,
		"utc":      utc,
		"rfc3339":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	}
}

// href is u when it is an absolute http(s) URL or a path on this site, and "" otherwise: a
// label or annotation can hold "javascript:…", which html/template would only neutralise to
// "#ZgotmplZ", a link that goes nowhere. Templates show the text without a link when href is "".
func href(u string) string {
	if strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") && !strings.HasPrefix(u, `/\`) {
		return u
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
		return ""
	}
	return p.String()
}

// sevClass is the CSS class of a severity; the text label is always shown beside the colour.
func sevClass(sev string) string {
	switch sev {
	case "P1", "P2", "P3", "P4":
		return "sev sev-" + strings.ToLower(sev)
	}
	return "sev sev-none"
}

// utc is a time as the page shows it before the script adds the browser's zone.
func utc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// navTab is one entry of the navigation bar; Page is the name render is given for it.
type navTab struct{ Page, Path, Label string }

var nav = []navTab{
	{"incidents", "/", "Incidents"},
	{"rules", "/rules", "Rules"},
	{"playground", "/playground", "Playground"},
	{"deploys", "/deploys", "Deploys"},
	{"dead-letters", "/dead-letters", "Dead letters"},
	{"status", "/status", "Status"},
}
