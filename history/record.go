// Package history keeps the alerts as triage handled them — each with its labels, annotations,
// group context, the service it was mapped to and what the rules in force decided, and for each
// incident opening the evidence escalation saw — on a JetStream stream bounded by age and size,
// so a rule author can replay real traffic through a candidate rule set (triagetool backtest)
// before it pages anyone.
package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/broker"
)

// SchemaVersion is the version of Record's JSON; it changes only when a field is removed or
// changes meaning.
const SchemaVersion = 1

// The kinds of record, the last token of their subject.
const (
	// KindAlert is one alert as the classification stage saw it.
	KindAlert = "alert"
	// KindOpening is an incident's opening or reopening: the representative alert and the
	// evidence the escalation stage saw.
	KindOpening = "opening"
)

// Record is one entry of the history.
type Record struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	// At is when the rules were evaluated: the time a replay evaluates them at, so hour,
	// weekday and active_for read as they did.
	At time.Time `json:"at"`
	// Alert is the alert as received, with its group context.
	Alert triaged.Alert `json:"alert"`
	// Service is the service the alert was mapped to then (the catalog may have changed since).
	Service triaged.Service `json:"service"`
	// Group is the incident key the alert joined (the Alertmanager group, or the incidents.group_by
	// labels' values): the records of one incident share it.
	Group string `json:"group"`
	// Incident is the incident's id (KindOpening records; "" on alert records, which are written
	// before the incident is decided).
	Incident string `json:"incident,omitempty"`
	// Severity, Rule and Dropped are what the rules in force (RuleSetVersion) decided: the
	// classification on alert records, the severity after escalation on opening records.
	Severity       triaged.Severity `json:"severity,omitempty"`
	Rule           string           `json:"rule,omitempty"`
	Dropped        bool             `json:"dropped,omitempty"`
	RuleSetVersion string           `json:"rule_set_version"`
	// Evidence is what enrichment found at an opening, as the escalation rules read it (without
	// graphs, probe bodies and log lines escalation does not read); nil on alert records.
	Evidence *triaged.Enrichment `json:"evidence,omitempty"`
	// EvidenceOmitted says what of the evidence was left out to keep the record within its
	// bound (triage.HistoryEvidenceMaxBytes), "" when nothing was: a replay of escalation may
	// then differ from what happened.
	EvidenceOmitted string `json:"evidence_omitted,omitempty"`
}

// Encode is the record's JSON.
func (r *Record) Encode() ([]byte, error) {
	if r.V == 0 {
		r.V = SchemaVersion
	}
	return json.Marshal(r)
}

// Decode reads a record written by Encode.
func Decode(data []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, err
	}
	if r.V > SchemaVersion {
		return Record{}, fmt.Errorf("history record schema v%d is newer than this build's v%d", r.V, SchemaVersion)
	}
	return r, nil
}

// Append publishes records to the history stream, waiting for each to be stored.
func Append(ctx context.Context, js jetstream.JetStream, n broker.Names, recs ...Record) error {
	for i := range recs {
		data, err := recs[i].Encode()
		if err != nil {
			return fmt.Errorf("history record: %w", err)
		}
		if _, err := js.Publish(ctx, n.HistorySubject(recs[i].Kind), data); err != nil {
			return fmt.Errorf("publish history record: %w", err)
		}
	}
	return nil
}

// Stats say what a Read went through.
type Stats struct {
	// Records were handed to the callback; Skipped could not be decoded (counted, not fatal).
	Records, Skipped int
	// First and Last are the times (At) of the first and last record read.
	First, Last time.Time
	// Truncated says Read stopped at its limit with records left.
	Truncated bool
}

// ErrStop, returned by Read's callback, ends the read without an error.
var ErrStop = errors.New("stop reading the history")

// Pending is how many messages the history holds from since on: a progress bar's total.
func Pending(ctx context.Context, js jetstream.JetStream, n broker.Names, since time.Time) (uint64, error) {
	c, err := js.OrderedConsumer(ctx, n.HistoryStream(), jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since,
	})
	if err != nil {
		return 0, fmt.Errorf("read history stream %s: %w", n.HistoryStream(), err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("read history stream %s: %w", n.HistoryStream(), err)
	}
	return info.NumPending, nil
}

// Read calls fn with every record of the history from since on, oldest first, at most limit
// records (0: no limit), and returns what it went through. It reads what the stream holds when it
// starts, not what arrives meanwhile.
func Read(ctx context.Context, js jetstream.JetStream, n broker.Names, since time.Time, limit int, fn func(Record) error) (Stats, error) {
	var st Stats
	c, err := js.OrderedConsumer(ctx, n.HistoryStream(), jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since,
	})
	if err != nil {
		return st, fmt.Errorf("read history stream %s: %w", n.HistoryStream(), err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		return st, fmt.Errorf("read history stream %s: %w", n.HistoryStream(), err)
	}
	for left := info.NumPending; left > 0; {
		// A batch no larger than what is left fills at once; it comes back short only when
		// records aged out meanwhile, after the wait.
		batch, err := c.Fetch(int(min(left, 1000)), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return st, fmt.Errorf("read history stream %s: %w", n.HistoryStream(), err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			if limit > 0 && st.Records >= limit {
				st.Truncated = true
				return st, nil
			}
			rec, err := Decode(msg.Data())
			if err != nil {
				st.Skipped++
				continue
			}
			if st.Records == 0 {
				st.First = rec.At
			}
			st.Records++
			st.Last = rec.At
			if err := fn(rec); err != nil {
				if errors.Is(err, ErrStop) {
					return st, nil
				}
				return st, err
			}
		}
		if err := batch.Error(); err != nil {
			return st, fmt.Errorf("read history stream %s: %w", n.HistoryStream(), err)
		}
		if got == 0 {
			return st, ctx.Err()
		}
		left -= uint64(got)
	}
	return st, nil
}
