package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/triaged/triaged"
)

// separator follows every report on stdout: a thematic break in Markdown (the blank line before
// it keeps it from being read as a heading underline) and an easy line to spot in a terminal.
const separator = "\n" + "----------------------------------------" +
	"----------------------------------------" + "\n\n"

// recentCapacity is how many report IDs a sink remembers to drop redeliveries.
const recentCapacity = 4096

type stdout struct {
	r *Renderer

	mu     sync.Mutex // serializes writes, so concurrent reports never interleave
	w      io.Writer
	recent *recentIDs
}

// NewStdout returns the sink of the first run: each report printed to w as Markdown, followed by
// a separator line. r must not be nil. A report redelivered soon after it was printed is not
// printed again.
func NewStdout(w io.Writer, r *Renderer) Sink {
	return &stdout{r: r, w: w, recent: newRecentIDs(recentCapacity)}
}

func (s *stdout) Name() string { return "stdout" }

func (s *stdout) Deliver(ctx context.Context, d Delivery) (*Thread, error) {
	return nil, s.write(ctx, d.Report)
}

func (s *stdout) write(ctx context.Context, rep *triaged.Report) error {
	if rep == nil {
		return errors.New("write report to stdout: nil report")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write report %s to stdout: %w", rep.ID, err)
	}
	// Render outside the lock: it is the slow part and needs no shared state.
	text, err := s.r.Markdown(rep)
	if err != nil {
		return fmt.Errorf("write report %s to stdout: %w", rep.ID, err)
	}
	text = append(text, separator...)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recent.seen(rep.ID) {
		return nil
	}
	// One Write per report: a writer shared with other code (os.Stdout, a log file) gets the
	// report in one piece.
	if _, err := s.w.Write(text); err != nil {
		return fmt.Errorf("write report %s to stdout: %w", rep.ID, err)
	}
	s.recent.add(rep.ID)
	return nil
}
