package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/notify"
)

// record is what one sink did with one incident's reports, kept in the deliveries bucket under
// <sink>.<incident>: the thread to reply in, the reports accounted for, and the attempt under
// way. Every replica reads and writes it with compare-and-set, so it is the one truth about
// which report went out, whoever delivered it.
type record struct {
	Thread *notify.Thread `json:"thread,omitempty"`
	// Last is the highest report number (the n of "<incident>.<n>.<event>") accounted for:
	// delivered, dead-lettered or not routed to this sink. Report Last+1 is the next in order.
	Last int `json:"last"`
	// Done lists the last reports accounted for, oldest first, at most triaged.MaxReports.
	Done []done `json:"done,omitempty"`
	// Intent is the report being delivered, recorded before the sink is called.
	Intent *intent `json:"intent,omitempty"`
}

// done is one report accounted for.
type done struct {
	ID string `json:"id"`
	// Skipped: dead-lettered or not routed here, not delivered. A replayed dead letter is
	// delivered then.
	Skipped bool `json:"skipped,omitempty"`
}

// intent is a report on its way to the sink.
type intent struct {
	ID string `json:"id"`
	N  int    `json:"n"`
	// Unsure: an attempt may have reached the service and its outcome is unknown (triaged
	// stopped during it, or the sink failed without saying the post was refused). The next
	// attempt is told so (Delivery.MaybePosted).
	Unsure bool `json:"unsure"`
	// Due is when the attempt under way ends at the latest, or when the next one is due: the
	// incident's later reports wait for it until then, and a grace period longer.
	Due time.Time `json:"due"`
	// Retry: the last attempt failed and the next is due at Due; none is under way. Without
	// it, an attempt may be under way in another process, which may have posted the report and
	// still be recording that (its NATS node stalled), so the report itself waits for it too.
	Retry bool `json:"retry,omitempty"`
}

func (r *record) find(id string) (done, bool) {
	for _, d := range r.Done {
		if d.ID == id {
			return d, true
		}
	}
	return done{}, false
}

// account records report id (number n) as dealt with; the intent is cleared if it was this
// report's.
func (r *record) account(id string, n int, skipped bool) {
	r.Last = max(r.Last, n)
	i := 0
	for _, d := range r.Done {
		if d.ID != id {
			r.Done[i] = d
			i++
		}
	}
	r.Done = append(r.Done[:i], done{ID: id, Skipped: skipped})
	if over := len(r.Done) - triaged.MaxReports; over > 0 {
		r.Done = append([]done(nil), r.Done[over:]...)
	}
	if r.Intent != nil && r.Intent.ID == id {
		r.Intent = nil
	}
}

// verdict is what the record says about delivering a report now.
type verdict int

const (
	deliverNow  verdict = iota
	duplicate           // delivered already: acknowledged without calling the sink
	waitTurn            // an earlier report of the incident is being delivered
	waitGap             // an earlier report is missing: it may still come
	waitAttempt         // this report is being delivered by another attempt, maybe elsewhere
)

// gate decides whether report id, number n, may be delivered now, keeping the incident's order:
// report n goes after report n-1 is accounted for. A live attempt holds back the later reports
// and any other attempt at the same report until it is overdue by grace (its process died, and
// its message went elsewhere or away); a number missing with no attempt recorded is left to the
// caller to wait for, bounded (waitGap).
func (r *record) gate(id string, n int, now time.Time, grace time.Duration) verdict {
	d, found := r.find(id)
	if found && !d.Skipped {
		return duplicate
	}
	if r.Intent != nil && r.Intent.ID == id && !r.Intent.Retry && now.Before(r.Intent.Due.Add(grace)) {
		// Its message came again while an attempt was live: that attempt's process lost its
		// in-progress acknowledgements with a NATS node, and may have posted the report.
		return waitAttempt
	}
	if found {
		return deliverNow // a replayed dead letter
	}
	switch {
	case n == 0 || n == r.Last+1:
		return deliverNow
	case n <= r.Last:
		if r.Last-n >= triaged.MaxReports {
			// Out of Done's memory: such an old report was dealt with long ago.
			return duplicate
		}
		return deliverNow // late: it was given up on, or replayed; better late than never
	case r.Intent != nil && r.Intent.ID == id:
		return deliverNow // its own retry: what came before was dealt with
	case r.Intent != nil && r.Intent.N > r.Last && r.Intent.N < n && now.Before(r.Intent.Due.Add(grace)):
		return waitTurn
	}
	return waitGap
}

// reportNumber is n of a report id "<incident>.<n>.<event>", 0 when the id has no such form.
func reportNumber(rep *triaged.Report) int {
	rest, ok := strings.CutPrefix(rep.ID, rep.IncidentID+".")
	if !ok || rep.IncidentID == "" {
		return 0
	}
	digits, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// records reads and writes one sink's records.
type records struct {
	kv   jetstream.KeyValue
	sink string
}

var validKeyPart = regexp.MustCompile(`^[A-Za-z0-9_-]{1,200}$`)

// key is the record's key: "<sink>.<incident>", the incident hashed if it cannot be a key.
func (s records) key(incident string) string {
	if !validKeyPart.MatchString(incident) {
		sum := sha256.Sum256([]byte(incident))
		incident = "h-" + hex.EncodeToString(sum[:16])
	}
	return s.sink + "." + incident
}

// get reads the record of incident; a missing one is empty, at revision 0.
func (s records) get(ctx context.Context, incident string) (*record, uint64, error) {
	e, err := s.kv.Get(ctx, s.key(incident))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return &record{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read delivery record %s: %w", s.key(incident), err)
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		// A record we cannot read is started afresh: losing it costs order and the thread of
		// one incident, keeping it would stop the incident's delivery for good.
		return &record{}, e.Revision(), nil
	}
	return &r, e.Revision(), nil
}

// errUnchanged is returned by an update's change to leave the record as it is.
var errUnchanged = errors.New("unchanged")

// update applies change to the record of incident as of rev, and stores it with compare-and-
// set; when another replica changed it since, it reads it again and applies change again.
// change returning errUnchanged stores nothing; update then returns the current record.
func (s records) update(ctx context.Context, incident string, r *record, rev uint64, change func(*record) error) (*record, uint64, error) {
	key := s.key(incident)
	for range 10 {
		next := *r
		next.Done = append([]done(nil), r.Done...)
		if r.Intent != nil {
			in := *r.Intent
			next.Intent = &in
		}
		if err := change(&next); errors.Is(err, errUnchanged) {
			return r, rev, nil
		} else if err != nil {
			return nil, 0, err
		}
		data, err := json.Marshal(&next)
		if err != nil {
			return nil, 0, fmt.Errorf("encode delivery record %s: %w", key, err)
		}
		var nrev uint64
		if rev == 0 {
			nrev, err = s.kv.Create(ctx, key, data)
		} else {
			nrev, err = s.kv.Update(ctx, key, data, rev)
		}
		if err == nil {
			return &next, nrev, nil
		}
		var apiErr *jetstream.APIError
		if !errors.Is(err, jetstream.ErrKeyExists) && !(errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence) {
			return nil, 0, fmt.Errorf("write delivery record %s: %w", key, err)
		}
		if r, rev, err = s.get(ctx, incident); err != nil {
			return nil, 0, err
		}
	}
	return nil, 0, fmt.Errorf("write delivery record %s: changed concurrently ten times in a row", key)
}
