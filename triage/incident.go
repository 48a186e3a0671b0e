package triage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
)

// key identifies the incident an alert of group g belongs to: the receiver and Alertmanager's
// group key, or the receiver and the values of the configured labels.
func (p Policy) key(g triaged.Group, a *triaged.Alert) string {
	if len(p.GroupBy) == 0 {
		return g.Receiver + "\x00" + g.Key
	}
	var b strings.Builder
	b.WriteString(g.Receiver)
	for _, l := range p.GroupBy {
		b.WriteByte(0)
		b.WriteString(l)
		b.WriteByte('=')
		b.WriteString(a.Labels[l])
	}
	return b.String()
}

// bucketKey is where an incident key's state lives in the incidents bucket: "g.<hash>", since
// group keys hold characters bucket keys may not.
func bucketKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return triaged.IncidentStatePrefix + hex.EncodeToString(sum[:16])
}

// incidentID names an incident briefly and the same way on every replica and redelivery: the
// day it opened, its alert name, and a hash of its group and start. "20261126-targetdown-3f9a1c2b7e".
// The id is a key (the bucket's index, the reports' message ids, which the stream deduplicates),
// so the hash has 40 bits: 10,000 groups of one alert name opening in a day collide about 3
// times in 24 bits (seen in the storm load test), and with odds of 1 in 20,000 in 40.
func incidentID(inc *triaged.Incident, in []arrival) string {
	name := inc.GroupLabels["alertname"]
	if name == "" && len(in) > 0 {
		name = in[0].alert.Name()
	}
	var slug strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case slug.Len() >= 24:
		case 'a' <= r && r <= 'z' || '0' <= r && r <= '9':
			slug.WriteRune(r)
		case slug.Len() > 0 && !strings.HasSuffix(slug.String(), "-"):
			slug.WriteByte('-')
		}
	}
	s := strings.Trim(slug.String(), "-")
	if s == "" {
		s = "incident"
	}
	sum := sha256.Sum256([]byte(inc.Key + "\x00" + inc.OpenedAt.UTC().String()))
	return inc.OpenedAt.UTC().Format("20060102") + "-" + s + "-" + hex.EncodeToString(sum[:5])
}

// record is an incident's entry in the bucket: the incident, and the messages its last change
// must still put on the streams. The state is stored before those messages are published, and
// whoever reads a record with an outbox publishes it first (message ids make that harmless twice),
// so a crash between the two loses no report and two workers never both open an incident.
type record struct {
	triaged.Incident
	// Classification is what the rules made of the alert the incident was (re)opened for: its
	// impact, user impact, team and runbook go into every report of the incident.
	Classification triaged.Classification `json:"classification"`
	Outbox         []outMsg               `json:"outbox,omitempty"`
	// FlushDue is the due time of the last flush message put in the outbox: a change asking
	// for a flush at that time again needs no message of its own.
	FlushDue *time.Time `json:"flush_due,omitempty"`
}

// outMsg is a message to publish once its incident's state is stored.
type outMsg struct {
	Subject string          `json:"subject"`
	MsgID   string          `json:"msg_id"`
	Data    json.RawMessage `json:"data"`
	// Report is the index in Incident.Reports of the report this message carries, -1 for none.
	Report int `json:"report"`
}

// keyLocks let one change of an incident at a time run in this process: the workers of one
// replica wait for each other rather than lose compare-and-set races and retry (a redelivery and
// the whole change again, enrichment included); between replicas compare-and-set still decides.
type keyLocks struct {
	mu   sync.Mutex
	held map[string]*keyLock // the keys being changed or waited for
}

type keyLock struct {
	sync.Mutex
	users int
}

func (l *keyLocks) lock(key string) (unlock func()) {
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]*keyLock{}
	}
	k := l.held[key]
	if k == nil {
		k = &keyLock{}
		l.held[key] = k
	}
	k.users++
	l.mu.Unlock()
	k.Lock()
	return func() {
		k.Unlock()
		l.mu.Lock()
		if k.users--; k.users == 0 {
			delete(l.held, key)
		}
		l.mu.Unlock()
	}
}

// errConflict means another worker changed the incident between our read and our write.
var errConflict = errors.New("incident changed concurrently")

func (w *Worker) load(ctx context.Context, key string) (*record, uint64, error) {
	e, err := w.o.Incidents.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read incident %s: %w", key, err)
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil || r.ID == "" {
		// State we cannot read is replaced rather than blocking the group forever.
		w.log.Warn("incident state unreadable; replacing it", "key", key, "err", err)
		return nil, e.Revision(), nil
	}
	return &r, e.Revision(), nil
}

// store writes r under key if nobody changed it since revision rev (0: if it does not exist),
// and returns the new revision.
func (w *Worker) store(ctx context.Context, key string, rev uint64, r *record) (uint64, error) {
	data, notes, err := fitRecord(r, w.o.RecordMaxBytes)
	if err != nil {
		return 0, fmt.Errorf("encode incident %s: %w", r.ID, err)
	}
	if len(notes) > 0 {
		w.log.Warn("incident record trimmed to fit what NATS stores", "incident", r.ID, "bytes", len(data), "trimmed", notes)
		w.metrics.recordsTrimmed.Inc()
	}
	if rev == 0 {
		rev, err = w.o.Incidents.Create(ctx, key, data)
	} else {
		rev, err = w.o.Incidents.Update(ctx, key, data, rev)
	}
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return rev, nil
	case errors.Is(err, jetstream.ErrKeyExists),
		errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence:
		return 0, fmt.Errorf("store incident %s: %w", r.ID, errConflict)
	default:
		return 0, fmt.Errorf("store incident %s: %w", r.ID, err)
	}
}
