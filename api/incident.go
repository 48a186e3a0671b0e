package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/httpin"
)

// IncidentResponse is the answer of GET /api/v1/incidents/{id}.
type IncidentResponse struct {
	Status string `json:"status"` // "success"
	// Incident is the incident's state as the incidents bucket holds it (a triaged.Incident).
	Incident json.RawMessage `json:"incident"`
	// Reports are the incident's reports, oldest first, as the reports stream holds them.
	Reports []ReportEntry `json:"reports"`
}

// ReportEntry is one report of an incident: where it is, and the report itself unless it has
// expired.
type ReportEntry struct {
	triaged.ReportRef
	// Expired says that the reports stream no longer has the report: retention removed it.
	Expired bool `json:"expired,omitempty"`
	// Report is the report's JSON as published (a triaged.Report); absent when expired.
	Report json.RawMessage `json:"report,omitempty"`
}

// maxIDLen bounds an incident id: ids are short, and a key of the incidents bucket.
const maxIDLen = 128

// checkID refuses an id that cannot be an incident's: ids are made of [A-Za-z0-9._-] and are
// KV key tokens, so they neither start nor end with '.' nor hold "..".
func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return httpin.Errorf(http.StatusBadRequest, "incident id %q: want 1 to %d characters", trunc(id), maxIDLen)
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return httpin.Errorf(http.StatusBadRequest, "incident id %q: %q is not allowed, want letters, digits, '.', '_' or '-'", trunc(id), c)
		}
	}
	if id[0] == '.' || id[len(id)-1] == '.' || strings.Contains(id, "..") {
		return httpin.Errorf(http.StatusBadRequest, "incident id %q: '.' may not start or end it or follow another '.'", id)
	}
	return nil
}

func trunc(s string) string {
	if len(s) > maxIDLen {
		return s[:maxIDLen] + "…"
	}
	return s
}

// load reads the incident with the id in r's path.
func (h *handler) load(r *http.Request) (*triaged.Incident, []byte, error) {
	return LoadIncident(r.Context(), h.opts.Incidents, r.PathValue("id"))
}

// LoadIncident reads incident id from the incidents bucket, through the id index, and returns it
// with its stored JSON. The web UI reads incidents through it too. Its errors that a request
// caused or that a retry may mend are *httpin.Error with the status to answer: 400 for an id
// that cannot be an incident's, 404 for an unknown or expired one, 503 when NATS did not answer.
func LoadIncident(ctx context.Context, incidents Bucket, id string) (*triaged.Incident, []byte, error) {
	if err := checkID(id); err != nil {
		return nil, nil, err
	}
	idx, err := incidents.Get(ctx, triaged.IncidentIndexKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil, httpin.Errorf(http.StatusNotFound, "no incident %q", id)
	}
	if err != nil {
		return nil, nil, unavailable("read the incidents bucket", err)
	}
	key := string(idx.Value())
	// The group's current incident, or one a later incident of the group replaced (archived).
	if !strings.HasPrefix(key, triaged.IncidentStatePrefix) && key != triaged.ArchivedIncidentKey(id) {
		return nil, nil, fmt.Errorf("the incidents bucket's index of %q names %q, not an incident's key", id, key)
	}
	e, err := incidents.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil, httpin.Errorf(http.StatusNotFound, "no incident %q: its state has expired from the incidents bucket", id)
	}
	if err != nil {
		return nil, nil, unavailable("read the incidents bucket", err)
	}
	var inc triaged.Incident
	if err := json.Unmarshal(e.Value(), &inc); err != nil {
		return nil, nil, fmt.Errorf("decode incident %q (key %s): %w", id, key, err)
	}
	if inc.ID != id {
		// The group opened a new incident after this one was over; its state replaced this one's.
		return nil, nil, httpin.Errorf(http.StatusNotFound, "no incident %q: its group's state now belongs to the later incident %q", id, inc.ID)
	}
	return &inc, e.Value(), nil
}

// fetch reads the report ref names from the reports stream.
func (h *handler) fetch(ctx context.Context, ref triaged.ReportRef) ([]byte, *triaged.Report, error) {
	return FetchReport(ctx, h.opts.Reports, ref)
}

// FetchReport reads the report ref names from the reports stream (for the API and the web UI).
// It returns nil data, and no error, for a report the stream no longer has: one that retention
// removed, or one whose stream sequence now holds another report because the stream was made
// anew.
func FetchReport(ctx context.Context, reports ReportStream, ref triaged.ReportRef) ([]byte, *triaged.Report, error) {
	if ref.Seq == 0 {
		return nil, nil, nil
	}
	m, err := reports.GetMsg(ctx, ref.Seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, unavailable(fmt.Sprintf("read report %s at stream sequence %d", ref.ID, ref.Seq), err)
	}
	rep, err := triaged.DecodeReport(m.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("decode report %s at stream sequence %d: %w", ref.ID, ref.Seq, err)
	}
	if rep.ID != ref.ID {
		return nil, nil, nil
	}
	return m.Data, rep, nil
}

func (h *handler) incident(w http.ResponseWriter, r *http.Request) error {
	inc, raw, err := h.load(r)
	if err != nil {
		return err
	}
	resp := IncidentResponse{Status: "success", Incident: raw, Reports: make([]ReportEntry, 0, len(inc.Reports))}
	for _, ref := range inc.Reports {
		data, _, err := h.fetch(r.Context(), ref)
		if err != nil {
			return err
		}
		resp.Reports = append(resp.Reports, ReportEntry{ReportRef: ref, Expired: data == nil, Report: data})
	}
	return writeJSON(w, resp)
}

func (h *handler) reportMarkdown(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Renderer == nil {
		return httpin.Errorf(http.StatusNotImplemented, "report.md is not available: this triaged has no report renderer")
	}
	inc, _, err := h.load(r)
	if err != nil {
		return err
	}
	if len(inc.Reports) == 0 {
		return httpin.Errorf(http.StatusNotFound, "incident %q has no report yet", inc.ID)
	}
	ref := inc.Reports[len(inc.Reports)-1]
	_, rep, err := h.fetch(r.Context(), ref)
	if err != nil {
		return err
	}
	if rep == nil {
		return httpin.Errorf(http.StatusGone, "the latest report of incident %q, %s, has expired from the reports stream", inc.ID, ref.ID)
	}
	md, err := h.opts.Renderer.Markdown(rep)
	if err != nil {
		return err
	}
	writeMarkdown(w, md)
	return nil
}

func (h *handler) postmortemMarkdown(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Postmortems == nil {
		return httpin.Errorf(http.StatusNotImplemented, "postmortem.md is not available: this triaged has no postmortem renderer")
	}
	inc, _, err := h.load(r)
	if err != nil {
		return err
	}
	reps := make([]triaged.Report, 0, len(inc.Reports))
	for _, ref := range inc.Reports {
		_, rep, err := h.fetch(r.Context(), ref)
		if err != nil {
			return err
		}
		if rep != nil { // the postmortem is written from the reports that are left
			reps = append(reps, *rep)
		}
	}
	md, err := h.opts.Postmortems.Postmortem(inc, reps)
	if err != nil {
		return fmt.Errorf("render the postmortem of incident %q: %w", inc.ID, err)
	}
	writeMarkdown(w, md)
	return nil
}
