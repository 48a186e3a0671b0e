package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/triaged/triaged"
)

// tailBytes is how much of an existing report file NewFile reads to learn the IDs it already
// holds: enough for the reports of the last hours, cheap to read at start.
const tailBytes = 1 << 20

// File is a sink that appends each report to a file as one line of JSON, in the report's
// documented schema: an audit trail, and an integration point for tools that tail a file.
//
// Delivery is at least once, and File drops the duplicates it can recognize cheaply: a report
// whose ID it wrote recently, in this process or, read back from the end of the file at open,
// before a restart. A report can still appear twice when a write or sync failed after the line
// reached the file (the error makes the stream redeliver it), when the first copy is older than
// the last few thousand reports, or when several processes append to one file. Consumers that
// must be exact dedupe on "id".
type File struct {
	path    string
	regular bool // a regular file, which can be synced; not a device such as /dev/stdout

	mu     sync.Mutex // one report at a time, so lines never interleave and IDs are checked once
	f      *os.File   // nil once closed
	torn   bool       // the file ends in a partial line, which the next write must terminate
	recent *recentIDs
}

var _ Sink = (*File)(nil)

// NewFile opens (creating it and its parent directory if needed) the file that reports are
// appended to. Close it when done.
func NewFile(path string) (*File, error) {
	if path == "" {
		return nil, errors.New("open report file: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open report file: %w", err)
	}
	// O_APPEND: every write lands at the end even if another process appends too, and a line
	// written with one write call is not interleaved with theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open report file: %w", err)
	}
	s := &File{path: path, f: f, recent: newRecentIDs(recentCapacity)}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open report file: %w", err)
	}
	s.regular = fi.Mode().IsRegular()
	if s.regular {
		if s.torn, err = readRecentIDs(path, s.recent); err != nil {
			f.Close()
			return nil, fmt.Errorf("open report file: read the reports it holds: %w", err)
		}
	}
	return s, nil
}

// readRecentIDs adds the IDs of the reports at the end of the file to recent, and reports
// whether the file ends in a partial line (a write cut short by a crash or a full disk).
func readRecentIDs(path string, recent *recentIDs) (torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return false, err
	}
	off := max(0, fi.Size()-tailBytes)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	torn = buf[len(buf)-1] != '\n'
	if off > 0 {
		_, buf, _ = bytes.Cut(buf, []byte("\n")) // the first line is cut off at the front
	}
	for line := range bytes.Lines(buf) {
		var head struct {
			ID string `json:"id"`
		}
		// A line that does not decode (the torn last line, or something another tool wrote)
		// has no ID to remember; it is not this sink's to judge.
		if json.Unmarshal(line, &head) == nil {
			recent.add(head.ID)
		}
	}
	return torn, nil
}

// Name returns "file".
func (s *File) Name() string { return "file" }

// Deliver appends rep as one JSON line, with a single write call, and syncs the file so that a
// report acknowledged on the stream is on disk. A report whose ID was written recently is
// skipped.
func (s *File) Deliver(ctx context.Context, d Delivery) (*Thread, error) {
	return nil, s.write(ctx, d.Report)
}

func (s *File) write(ctx context.Context, rep *triaged.Report) error {
	if rep == nil {
		return fmt.Errorf("write report to %s: nil report", s.path)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write report %s to %s: %w", rep.ID, s.path, err)
	}
	line, err := triaged.EncodeReport(rep)
	if err != nil {
		return fmt.Errorf("write report %s to %s: encode: %w", rep.ID, s.path, err)
	}
	line = append(line, '\n')

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("write report %s to %s: %w", rep.ID, s.path, os.ErrClosed)
	}
	if s.recent.seen(rep.ID) {
		return nil
	}
	if err := s.reopenIfMoved(); err != nil {
		return fmt.Errorf("write report %s to %s: %w", rep.ID, s.path, err)
	}
	if s.torn {
		line = append([]byte{'\n'}, line...) // end the partial line, so this one stays valid
	}
	if n, err := s.f.Write(line); err != nil {
		if n > 0 {
			s.torn = true
		}
		return fmt.Errorf("write report %s to %s: %w", rep.ID, s.path, err)
	}
	s.torn = false
	if s.regular {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("write report %s to %s: sync: %w", rep.ID, s.path, err)
		}
	}
	s.recent.add(rep.ID)
	return nil
}

// reopenIfMoved opens the path again when the file there is not the one held open: logrotate
// moved it away or someone deleted it. Writing on to the old file would count reports as
// delivered that nobody finds at the path.
func (s *File) reopenIfMoved() error {
	if !s.regular {
		return nil
	}
	held, err := s.f.Stat()
	if err != nil {
		return err
	}
	if now, err := os.Stat(s.path); err == nil && os.SameFile(held, now) {
		return nil
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	s.f.Close()
	s.f, s.torn = f, false
	return nil
}

// Close closes the file. Deliver fails after Close; a second Close does nothing.
func (s *File) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("close report file %s: %w", s.path, err)
	}
	return nil
}
