package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/httpin"
)

// DeadLetters is the dead-letters stream as the API reads and replays it; *broker.DeadLetterStore
// is one.
type DeadLetters interface {
	List(ctx context.Context, limit int) (broker.DeadLetterList, error)
	Replay(ctx context.Context, seq uint64) (broker.Replayed, error)
}

// Bounds of GET /api/v1/dead-letters: a page is at most MaxDeadLettersLimit letters.
const (
	DefaultDeadLettersLimit = 100
	MaxDeadLettersLimit     = 1000
)

// NewDeadLettersHandler returns the handler of GET /api/v1/dead-letters (?limit=N, newest
// first: id, time, origin, reason, error, size) and POST /api/v1/dead-letters/{id}/replay (the
// payload published again on its origin subject, the dead letter deleted: what `triagetool
// dead-letters replay` does). Replay answers 404 for a dead letter that is gone, 422 for one
// naming a subject outside the deployment, 503 when NATS does not answer within timeout (0:
// DefaultTimeout). Errors are JSON as the incidents API's. Route the replay path behind the
// write authentication.
func NewDeadLettersHandler(d DeadLetters, timeout time.Duration, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	h := &handler{opts: Options{Logger: logger, Timeout: timeout}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		var err error
		if r.URL.Path == "/api/v1/dead-letters" {
			err = listDeadLetters(ctx, w, r, d)
		} else {
			err = replayDeadLetter(ctx, w, r, d)
		}
		if err != nil {
			h.fail(w, r, err)
		}
	})
}

func listDeadLetters(ctx context.Context, w http.ResponseWriter, r *http.Request, d DeadLetters) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return httpin.Errorf(http.StatusMethodNotAllowed, "method %s not allowed: the dead letters are listed with GET", r.Method)
	}
	q := r.URL.Query()
	limit := DefaultDeadLettersLimit
	for name, vals := range q {
		if name != "limit" {
			return badParam(name, "unknown parameter: want limit")
		}
		if len(vals) > 1 {
			return badParam(name, "given %d times: give it once", len(vals))
		}
		n, err := strconv.Atoi(vals[0])
		if err != nil || n < 1 || n > MaxDeadLettersLimit {
			return badParam("limit", "%q is not a number from 1 to %d", vals[0], MaxDeadLettersLimit)
		}
		limit = n
	}
	if d == nil {
		return httpin.Errorf(http.StatusServiceUnavailable, "the dead letters cannot be read: no NATS")
	}
	list, err := d.List(ctx, limit)
	if err != nil {
		return unavailable("the dead letters", err)
	}
	return writeJSON(w, struct {
		Status string `json:"status"`
		broker.DeadLetterList
	}{"success", list})
}

func replayDeadLetter(ctx context.Context, w http.ResponseWriter, r *http.Request, d DeadLetters) error {
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/dead-letters/")
	id, tail, _ := strings.Cut(rest, "/")
	if !ok || tail != "replay" {
		return httpin.Errorf(http.StatusNotFound, "no such endpoint %s: want POST /api/v1/dead-letters/{id}/replay", r.URL.Path)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return httpin.Errorf(http.StatusMethodNotAllowed, "method %s not allowed: a dead letter is replayed with POST", r.Method)
	}
	seq, err := strconv.ParseUint(id, 10, 64)
	if err != nil || seq == 0 {
		return httpin.Errorf(http.StatusBadRequest, "dead letter id %q: want the number GET /api/v1/dead-letters gives as \"id\"", id)
	}
	if d == nil {
		return httpin.Errorf(http.StatusServiceUnavailable, "the dead letters cannot be replayed: no NATS")
	}
	replayed, err := d.Replay(ctx, seq)
	switch {
	case errors.Is(err, broker.ErrNoDeadLetter):
		return httpin.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, broker.ErrForeignOrigin):
		return httpin.Errorf(http.StatusUnprocessableEntity, "%v", err)
	case err != nil:
		return unavailable("replaying the dead letter", err)
	}
	return writeJSON(w, struct {
		Status   string          `json:"status"`
		Replayed broker.Replayed `json:"replayed"`
	}{"success", replayed})
}
