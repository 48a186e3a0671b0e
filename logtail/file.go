package logtail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/target"
)

const (
	// blockSize is how much is read at a time, backwards from the end.
	blockSize = 64 << 10
	// maxScanLine is how much of one line the scan keeps (its start); longer lines are marked
	// cut. Filters see this much, the report MaxLineBytes.
	maxScanLine = 64 << 10
)

// tailFile returns the last matching lines of the file, oldest first, continuing into path.1
// when the file holds too few: right after a rotation the new file is nearly empty and the
// lines that matter are in the old one.
func (c *Compiled) tailFile(ctx context.Context, labels map[string]string, res *triaged.LogTail) ([]line, bool) {
	path, err := c.file.path.Fill(labels)
	if err == nil && c.file.path.IsTemplate() && (!filepath.IsAbs(path) || filepath.Clean(path) != path) {
		err = &target.RefusedError{Reason: fmt.Sprintf("filled path %q is not absolute and clean", path)}
	}
	if err != nil {
		res.Error = err.Error()
		return nil, false
	}
	res.Source = path
	budget := c.file.scanBytes
	cur, err := scanFile(ctx, path, c.lines, budget, c.filter)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		res.Error = err.Error()
		return reverse(cur.lines), cur.cut
	}
	missing := err != nil
	if len(cur.lines) >= c.lines || !(cur.reachedStart || missing) || cur.scanned >= budget {
		return reverse(cur.lines), cur.cut
	}
	old, oerr := scanFile(ctx, path+".1", c.lines-len(cur.lines), budget-cur.scanned, c.filter)
	switch {
	case missing && oerr == nil:
		res.Error = fmt.Sprintf("%v; showing %s", err, path+".1")
	case missing:
		res.Error = err.Error()
	case oerr != nil && !errors.Is(oerr, fs.ErrNotExist):
		res.Error = oerr.Error()
	}
	return append(reverse(old.lines), reverse(cur.lines)...), cur.cut || old.cut
}

// scan is what scanBack found: matching lines newest first.
type scan struct {
	lines        []line
	cut          bool  // a kept line was longer than maxScanLine
	scanned      int64 // bytes read
	reachedStart bool  // the scan read back to the first byte
}

// scanFile opens path without blocking (a FIFO must not hang the tail) and scans a regular file.
func scanFile(ctx context.Context, path string, want int, budget int64, filter *filter) (scan, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return scan{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return scan{}, err
	}
	if !st.Mode().IsRegular() {
		return scan{}, fmt.Errorf("%s is not a regular file (%s)", path, st.Mode().Type())
	}
	// The size is taken once: lines appended while the tail runs are left for the next one.
	return scanBack(ctx, f, st.Size(), want, budget, filter)
}

// scanBack reads r from size backwards in blocks until want lines matched the filter, budget
// bytes were read or the start was reached, and returns the matching lines newest first. It
// never reads more than budget bytes, so a tail costs the same on a 1 KB and a 1 TB file.
func scanBack(ctx context.Context, r io.ReaderAt, size int64, want int, budget int64, filter *filter) (scan, error) {
	var (
		s       scan
		buf     = make([]byte, blockSize)
		pos     = size
		partial []byte // the end of the line that starts before pos, at most maxScanLine
		pcut    bool   // partial lost bytes at its end
		atEOF   = true // the next line found is the last of the file
	)
	emit := func(b []byte, cut bool) {
		if atEOF && len(b) == 0 { // the newline that ends the file ends no line
			atEOF = false
			return
		}
		atEOF = false
		text := clean(b)
		if filter.MatchString(text) {
			s.lines = append(s.lines, line{text: text, cut: cut})
			s.cut = s.cut || cut
		}
	}
	for pos > 0 && len(s.lines) < want && s.scanned < budget {
		if err := ctx.Err(); err != nil {
			return s, context.Cause(ctx)
		}
		n := min(int64(blockSize), pos, budget-s.scanned)
		pos -= n
		b := buf[:n]
		if _, err := r.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
			return s, err
		}
		s.scanned += n
		end := len(b)
		for len(s.lines) < want {
			i := bytes.LastIndexByte(b[:end], '\n')
			if i < 0 {
				break
			}
			l, cut := join(b[i+1:end], partial, pcut)
			emit(l, cut)
			partial, pcut = partial[:0], false
			end = i
		}
		if len(s.lines) >= want {
			break
		}
		// What is left of the block is the end of a line that started earlier; keep its
		// first maxScanLine bytes, which are the ones a reader and the filter need.
		partial, pcut = join(b[:end], partial, pcut)
		partial = bytes.Clone(partial)
	}
	if pos == 0 && len(s.lines) < want {
		s.reachedStart = true
		if len(partial) > 0 || !atEOF {
			emit(partial, pcut)
		}
	}
	return s, nil
}

// join puts head before tail, keeping at most maxScanLine bytes from the start.
func join(head, tail []byte, tailCut bool) ([]byte, bool) {
	if len(head) >= maxScanLine {
		return head[:maxScanLine], true
	}
	room := maxScanLine - len(head)
	cut := tailCut
	if len(tail) > room {
		tail, cut = tail[:room], true
	}
	out := make([]byte, 0, len(head)+len(tail))
	return append(append(out, head...), tail...), cut
}

func reverse(ls []line) []line {
	out := make([]line, len(ls))
	for i, l := range ls {
		out[len(ls)-1-i] = l
	}
	return out
}
