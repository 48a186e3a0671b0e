package logtail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/target"
)

// waitDelay bounds how long the output is read after the program exited and its process group
// was killed, in case something that left the group (setsid) still holds the pipe.
const waitDelay = time.Second

// runCommand runs the program with no shell, the configured environment only, and a timeout
// that kills its process group; it returns the matching lines of its output, oldest first.
func (c *Compiled) runCommand(ctx context.Context, labels map[string]string, res *triaged.LogTail) ([]line, bool) {
	argv := make([]string, len(c.cmd.argv))
	for i, a := range c.cmd.argv {
		v, err := a.Fill(labels)
		// An option smuggled in through a label ("--kubeconfig=/etc/…") could change what the
		// program does as surely as another program would: a filled argument may start with
		// "-" only where the config's own text does.
		if err == nil && a.IsTemplate() && strings.HasPrefix(v, "-") && !strings.HasPrefix(a.String(), "-") {
			err = &target.RefusedError{Reason: fmt.Sprintf("filled argument %q starts with '-' but its template does not", v)}
		}
		if err != nil {
			res.Error = err.Error()
			return nil, false
		}
		argv[i] = v
	}
	res.Source = commandLine(c.cmd.argv, argv)

	prog, err := exec.LookPath(argv[0])
	if err != nil {
		res.Error = err.Error()
		return nil, false
	}
	ctx, cancel := context.WithTimeoutCause(ctx, c.cmd.timeout, fmt.Errorf("timed out after %s; process group killed", c.cmd.timeout))
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, argv[1:]...)
	cmd.Args[0] = argv[0]
	// A non-nil, possibly empty, Env replaces the daemon's environment instead of extending it.
	cmd.Env = append([]string{}, c.cmd.env...)
	cmd.Dir = c.cmd.dir
	cmd.WaitDelay = waitDelay
	ownProcessGroup(cmd)

	out := &lastBytes{max: c.cmd.maxOutput}
	err = runGroup(cmd, out)
	if err != nil {
		var exit *exec.ExitError
		switch {
		case ctx.Err() != nil:
			res.Error = errorText(ctx, err)
		case errors.As(err, &exit):
			res.Error = exit.Error() // "exit status 1"; its stderr is among the lines
		default:
			res.Error = err.Error()
		}
	}
	lines := splitLines(out.Bytes(), out.dropped > 0)
	var kept []line
	for _, l := range lines {
		if text := clean(l); c.filter.MatchString(text) {
			kept = append(kept, line{text: text})
		}
	}
	if len(kept) > c.lines {
		kept = kept[len(kept)-c.lines:]
	}
	return kept, out.dropped > 0
}

// runGroup runs cmd with stdout and stderr on one pipe read into out, and returns when the
// program has exited, its process group has been killed, and the pipe has been read to its end
// (or for waitDelay more). The pipe is ours rather than exec's so that the group can be killed
// between the program's exit and the end of its output: exec would wait for the output first,
// which a child left in the background holds open.
func runGroup(cmd *exec.Cmd, out io.Writer) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd.Stdout, cmd.Stderr = pw, pw // one writer: the interleaving is the program's
	err = cmd.Start()
	pw.Close() // the program has its own copy; ours would keep the pipe open for ever
	if err != nil {
		return err
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
	}()
	err = waitAndEndGroup(cmd)
	t := time.NewTimer(waitDelay)
	defer t.Stop()
	select {
	case <-copied:
	case <-t.C:
		pr.Close() // ends the copy: a process outside the group still holds the pipe
		<-copied
	}
	return err
}

// splitLines splits output into lines; when the start was dropped, the first line is partial
// and is dropped too.
func splitLines(b []byte, startDropped bool) [][]byte {
	if startDropped {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) == 0 {
		return nil
	}
	return bytes.Split(b, []byte("\n"))
}

// lastBytes keeps the last max bytes written to it. The newest output is the end of a log, so
// that is what survives a command that prints more than the cap.
type lastBytes struct {
	buf     []byte
	max     int
	dropped int64
}

func (w *lastBytes) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= w.max {
		w.dropped += int64(len(w.buf) + len(p) - w.max)
		w.buf = append(w.buf[:0], p[len(p)-w.max:]...)
		return n, nil
	}
	if over := len(w.buf) + len(p) - w.max; over > 0 {
		w.dropped += int64(over)
		w.buf = w.buf[:copy(w.buf, w.buf[over:])]
	}
	w.buf = append(w.buf, p...)
	return n, nil
}

func (w *lastBytes) Bytes() []byte { return w.buf }
