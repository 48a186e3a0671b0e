package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
)

// incident is the state kept per alert fingerprint in the incidents bucket: what was last
// reported, so a resent or redelivered alert does not produce a second report.
type incident struct {
	ID       string           `json:"incident_id"`
	Status   string           `json:"status"`
	Severity triaged.Severity `json:"severity"` // as reported, after escalation
	// Classified is the severity before escalation: a resend is compared on it, since
	// escalation depends on enrichment that changes from one look to the next.
	Classified triaged.Severity   `json:"classified_severity"`
	Rule       string             `json:"rule"`
	RuleSet    string             `json:"rule_set_version"`
	Decisions  []triaged.Decision `json:"decisions,omitempty"`
	StartsAt   time.Time          `json:"starts_at"`
	UpdatedAt  time.Time          `json:"updated_at"`
	Report     string             `json:"last_report"`
}

// Why an alert message calls for no new report, the values of the "reason" metric label.
const (
	skipDuplicate = "duplicate" // already reported as it is
	skipStale     = "stale"     // a firing message overtaken by its own resolution
)

// decideEvent returns the event an alert calls for given the incident's last reported state
// and the severity the rules classified the alert with now, or a reason to report nothing.
func decideEvent(a *triaged.Alert, prev *incident, classified triaged.Severity) (triaged.Event, string) {
	same := prev != nil && prev.ID == a.IncidentID()
	switch {
	case a.Resolved() && same && prev.Status == triaged.StatusResolved:
		return "", skipDuplicate
	case a.Resolved():
		return triaged.EventResolved, ""
	case same && prev.Status == triaged.StatusResolved:
		return "", skipStale
	case same && prev.Classified == classified:
		return "", skipDuplicate
	case same:
		return triaged.EventUpdated, ""
	default:
		return triaged.EventOpened, ""
	}
}

// errConflict means another worker changed the incident between our read and our write.
var errConflict = errors.New("incident changed concurrently")

func (w *Worker) loadIncident(ctx context.Context, key string) (*incident, uint64, error) {
	e, err := w.o.Incidents.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read incident %s: %w", key, err)
	}
	var inc incident
	if err := json.Unmarshal(e.Value(), &inc); err != nil {
		// State we cannot read is replaced rather than blocking the alert forever.
		w.log.Warn("incident state unreadable; replacing it", "fingerprint", key, "err", err)
		return nil, e.Revision(), nil
	}
	return &inc, e.Revision(), nil
}

func (w *Worker) storeIncident(ctx context.Context, key string, rev uint64, inc incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return fmt.Errorf("encode incident %s: %w", key, err)
	}
	if rev == 0 {
		_, err = w.o.Incidents.Create(ctx, key, data)
	} else {
		_, err = w.o.Incidents.Update(ctx, key, data, rev)
	}
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrKeyExists),
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return fmt.Errorf("store incident %s: %w", key, errConflict)
	default:
		return fmt.Errorf("store incident %s: %w", key, err)
	}
}
