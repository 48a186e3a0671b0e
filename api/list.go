package api

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sourcegraph/conc/pool"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/httpin"
)

// ListResponse is the answer of GET /api/v1/incidents.
type ListResponse struct {
	Status    string    `json:"status"` // "success"
	Incidents []Summary `json:"incidents"`
	// Next is the page token of the next page; absent on the last one.
	Next string `json:"next,omitempty"`
	// Capped says that the bucket held more incidents than one request reads: only the most
	// recently updated were listed. Warnings say so in words.
	Capped   bool     `json:"capped,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// Summary is one incident as the list shows it.
type Summary struct {
	ID             string     `json:"id"`
	State          string     `json:"state"`
	Severity       string     `json:"severity"`
	Service        string     `json:"service"`
	Environment    string     `json:"environment,omitempty"`
	AlertName      string     `json:"alertname,omitempty"`
	OpenedAt       time.Time  `json:"opened_at"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at"`
	AlertsFiring   int        `json:"alerts_firing"`
	AlertsResolved int        `json:"alerts_resolved"`
	Flapping       bool       `json:"flapping"`
	LastReportID   string     `json:"last_report_id,omitempty"`
}

// listQuery is a list request's parameters, checked.
type listQuery struct {
	state      string
	severities []string // "P1".."P4"; empty: any
	service    string
	limit      int
	offset     int
	after      *cursor // from the page token
}

var listParams = []string{"state", "severity", "service", "limit", "page", "offset"}

func parseListQuery(v url.Values) (listQuery, error) {
	q := listQuery{limit: DefaultLimit}
	for name, vals := range v {
		if !slices.Contains(listParams, name) {
			return q, badParam(name, "unknown parameter: want one of %s or %s", strings.Join(listParams[:len(listParams)-1], ", "), listParams[len(listParams)-1])
		}
		if name != "severity" && len(vals) > 1 {
			return q, badParam(name, "given %d times: give it once", len(vals))
		}
	}
	switch s := v.Get("state"); s {
	case "", triaged.IncidentOpen, triaged.IncidentResolved:
		q.state = s
	default:
		return q, badParam("state", "%q is not a state: want %s or %s", s, triaged.IncidentOpen, triaged.IncidentResolved)
	}
	for _, list := range v["severity"] {
		for s := range strings.SplitSeq(list, ",") {
			sev, err := triaged.ParseSeverity(strings.TrimSpace(s))
			if err != nil {
				return q, badParam("severity", "%v", err)
			}
			q.severities = append(q.severities, sev.String())
		}
	}
	q.service = v.Get("service")
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, badParam("limit", "%q is not a number from 1 to %d", s, MaxLimit)
		}
		q.limit = n
	}
	if s := v.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return q, badParam("offset", "%q is not a number from 0 up", s)
		}
		q.offset = n
	}
	if s := v.Get("page"); s != "" {
		if v.Has("offset") {
			return q, badParam("page", "give page or offset, not both")
		}
		c, err := decodeCursor(s)
		if err != nil {
			return q, badParam("page", "%q is not a page token of this API: pass the \"next\" of the previous page as it is", s)
		}
		q.after = &c
	}
	return q, nil
}

func badParam(name, format string, args ...any) error {
	return httpin.Errorf(http.StatusBadRequest, "parameter %s: %s", name, fmt.Sprintf(format, args...))
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path != "/api/v1/incidents" {
		return httpin.Errorf(http.StatusNotFound, "no such endpoint %s", r.URL.Path)
	}
	q, err := parseListQuery(r.URL.Query())
	if err != nil {
		return err
	}
	keys, total, err := h.recentKeys(r.Context())
	if err != nil {
		return err
	}
	sums, err := h.summaries(r.Context(), keys, q)
	if err != nil {
		return err
	}
	slices.SortFunc(sums, func(a, b Summary) int { return compareNewestFirst(keyOf(&a), keyOf(&b)) })
	sums = sums[min(q.offset, len(sums)):]
	resp := ListResponse{Status: "success", Incidents: sums}
	if len(sums) > q.limit {
		resp.Incidents = sums[:q.limit]
		resp.Next = keyOf(&sums[q.limit-1]).encode()
	}
	if total > len(keys) {
		resp.Capped = true
		resp.Warnings = []string{fmt.Sprintf("the incidents bucket holds %d incidents; only the %d most recently updated were read", total, len(keys))}
	}
	return writeJSON(w, resp)
}

// recentKeys lists the incidents' keys and keeps the last MaxScan of them, the most recently
// updated ones (the bucket lists keys in the order of their last write), without duplicates.
// total is how many keys it saw, more than len(keys) when it kept only the last MaxScan.
func (h *handler) recentKeys(ctx context.Context) (keys []string, total int, err error) {
	kl, err := h.opts.Incidents.ListKeysFiltered(ctx, triaged.IncidentStatePrefix+">")
	if err != nil {
		return nil, 0, unavailable("list the incidents bucket", err)
	}
	ring := make([]string, 0, min(h.opts.MaxScan, 1024))
	// Read until the lister closes the channel, even past the deadline: its goroutine only
	// returns once it can send or sees the context done.
	for k := range kl.Keys() {
		if len(ring) < h.opts.MaxScan {
			ring = append(ring, k)
		} else {
			ring[total%h.opts.MaxScan] = k
		}
		total++
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("list the incidents bucket: %w", err)
	}
	slices.Sort(ring)
	ring = slices.Compact(ring) // a bucket written to while listed may list a key twice
	if total <= h.opts.MaxScan {
		total = len(ring)
	}
	return ring, total, nil
}

// getConcurrency bounds the bucket reads one list request has in flight.
const getConcurrency = 8

// summaries reads the incidents at keys and returns those that match q and come after its page
// token, unsorted.
func (h *handler) summaries(ctx context.Context, keys []string, q listQuery) ([]Summary, error) {
	found := make([]*Summary, len(keys))
	p := pool.New().WithMaxGoroutines(getConcurrency).WithContext(ctx).WithCancelOnError().WithFirstError()
	for i, k := range keys {
		p.Go(func(ctx context.Context) error {
			e, err := h.opts.Incidents.Get(ctx, k)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				return nil // deleted or expired since it was listed
			}
			if err != nil {
				return unavailable("read the incidents bucket", err)
			}
			s, err := summarize(e.Value())
			if err != nil {
				h.opts.Logger.Warn("incidents API: skipping an undecodable incident", "key", k, "err", err)
				return nil
			}
			if q.matches(s) {
				found[i] = s
			}
			return nil
		})
	}
	if err := p.Wait(); err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(found))
	for _, s := range found {
		if s != nil {
			out = append(out, *s)
		}
	}
	return out, nil
}

func (q *listQuery) matches(s *Summary) bool {
	return (q.state == "" || s.State == q.state) &&
		(len(q.severities) == 0 || slices.Contains(q.severities, s.Severity)) &&
		(q.service == "" || s.Service == q.service) &&
		(q.after == nil || compareNewestFirst(*q.after, keyOf(s)) < 0)
}

// listed is the part of an incident's stored JSON a summary needs: decoding only that keeps a
// list of thousands of incidents with hundreds of members each cheap.
type listed struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Severity    string `json:"severity"`
	Service     struct{ Name, Environment string }
	GroupLabels map[string]string `json:"group_labels"`
	OpenedAt    time.Time         `json:"opened_at"`
	ResolvedAt  *time.Time        `json:"resolved_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Members     []struct {
		Status string `json:"status"`
		Labels struct {
			AlertName string `json:"alertname"`
		} `json:"labels"`
	} `json:"members"`
	Flapping bool `json:"flapping"`
	Reports  []struct {
		ID string `json:"id"`
	} `json:"reports"`
}

func summarize(data []byte) (*Summary, error) {
	var l listed
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, err
	}
	s := &Summary{
		ID: l.ID, State: l.State, Severity: l.Severity, Service: l.Service.Name, Environment: l.Service.Environment,
		AlertName: l.GroupLabels["alertname"], OpenedAt: l.OpenedAt, ResolvedAt: l.ResolvedAt, UpdatedAt: l.UpdatedAt,
		Flapping: l.Flapping,
	}
	common := true // the members' alertname, when the group labels do not name one
	for _, m := range l.Members {
		if m.Status == triaged.StatusFiring {
			s.AlertsFiring++
		} else {
			s.AlertsResolved++
		}
		common = common && m.Labels.AlertName == l.Members[0].Labels.AlertName
	}
	if s.AlertName == "" && common && len(l.Members) > 0 {
		s.AlertName = l.Members[0].Labels.AlertName
	}
	if n := len(l.Reports); n > 0 {
		s.LastReportID = l.Reports[n-1].ID
	}
	return s, nil
}

// cursor is a position in the list's order, the page token's content: the next page starts
// after it, so incidents opened meanwhile do not shift the pages that follow.
type cursor struct {
	opened, updated time.Time
	id              string
}

func keyOf(s *Summary) cursor { return cursor{s.OpenedAt, s.UpdatedAt, s.ID} }

// compareNewestFirst orders by opening, newest first, then by last update, newest first, then
// by id.
func compareNewestFirst(a, b cursor) int {
	if c := b.opened.Compare(a.opened); c != 0 {
		return c
	}
	if c := b.updated.Compare(a.updated); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

const cursorVersion = "1"

func (c cursor) encode() string {
	s := strings.Join([]string{cursorVersion, c.opened.Format(time.RFC3339Nano), c.updated.Format(time.RFC3339Nano), c.id}, " ")
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(tok string) (cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return cursor{}, err
	}
	f := strings.SplitN(string(b), " ", 4)
	if len(f) != 4 || f[0] != cursorVersion {
		return cursor{}, errors.New("malformed")
	}
	var c cursor
	if c.opened, err = time.Parse(time.RFC3339Nano, f[1]); err != nil {
		return cursor{}, err
	}
	if c.updated, err = time.Parse(time.RFC3339Nano, f[2]); err != nil {
		return cursor{}, err
	}
	c.id = f[3]
	return c, nil
}
