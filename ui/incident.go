package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/internal/httpin"
)

// incidentTimeout bounds the reads of one incident page.
const incidentTimeout = 10 * time.Second

// incidentPage is the incident page: the incident's state, every report of it, and the latest
// report that the stream still has, shown from its fields (never as HTML an alert brought).
type incidentPage struct {
	ID       string
	Error    string
	Inc      *triaged.Incident
	Report   *triaged.Report // the latest report the stream still has; nil when none
	Timeline []timelineEntry
	Members  []memberView
	Links    []ChatLink
	// Postmortem is the postmortem skeleton as Markdown text, shown as text; PostmortemError says
	// why there is none.
	Postmortem      string
	PostmortemError string
	Age             string
	Live            bool
	// Paths of the incident's documents under the API.
	ReportMD, PostmortemMD, JSON string
}

func (u *UI) incident(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	data := incidentPage{ID: id, Live: u.opts.Events != nil}
	if u.opts.Incidents == nil || u.opts.Reports == nil {
		data.Error = "this triaged was started without the incidents bucket and reports stream this page reads"
		u.renderCode(w, r, http.StatusNotImplemented, "incident", "triaged: incident", &data)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), incidentTimeout)
	defer cancel()
	if err := u.loadIncident(ctx, &data); err != nil {
		code := http.StatusInternalServerError
		var he *httpin.Error
		switch {
		case errors.As(err, &he):
			code = he.Code
		case errors.Is(err, context.DeadlineExceeded):
			code = http.StatusServiceUnavailable
		}
		if code >= 500 {
			u.opts.Logger.Error("web UI: reading an incident failed", "incident", id, "err", err)
		}
		data.Error = err.Error()
		u.renderCode(w, r, code, "incident", "triaged: incident "+id, &data)
		return
	}
	title := "triaged: " + id
	if data.Report != nil {
		title = data.Report.Headline + " · triaged"
	}
	u.render(w, r, "incident", title, &data)
}

// loadIncident reads the incident and its reports as the incidents API does.
func (u *UI) loadIncident(ctx context.Context, p *incidentPage) error {
	inc, _, err := api.LoadIncident(ctx, u.opts.Incidents, p.ID)
	if err != nil {
		return err
	}
	p.Inc = inc
	esc := url.PathEscape(inc.ID)
	p.ReportMD, p.PostmortemMD, p.JSON = "/api/v1/incidents/"+esc+"/report.md", "/api/v1/incidents/"+esc+"/postmortem.md", "/api/v1/incidents/"+esc
	reports := make([]triaged.Report, 0, len(inc.Reports))
	var prev *triaged.Report
	for _, ref := range inc.Reports {
		rep, err := u.reports.fetch(ctx, u.opts.Reports, ref)
		if err != nil {
			return err
		}
		p.Timeline = append(p.Timeline, timelineEntry{Ref: ref, Report: rep, Diff: diffReports(prev, rep)})
		if rep != nil {
			reports = append(reports, *rep)
			prev, p.Report = rep, rep
		}
	}
	p.Members = members(inc.Members)
	p.Age = age(u.opts.Now(), inc.OpenedAt)
	if u.opts.Index != nil {
		p.Links = u.opts.Index.Links(inc.ID)
	}
	switch {
	case u.opts.Postmortems == nil:
		p.PostmortemError = "this triaged has no postmortem renderer"
	default:
		md, err := u.opts.Postmortems.Postmortem(inc, reports)
		if err != nil {
			p.PostmortemError = err.Error()
		}
		p.Postmortem = string(md)
	}
	return nil
}
