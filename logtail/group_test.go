package logtail

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/internal/testkit"
)

// TestCommandFinishedEndsProcessGroup: what a command left running in the background dies when
// the command finishes, and does not hold the result back by keeping the output pipe open.
func TestCommandFinishedEndsProcessGroup(t *testing.T) {
	for _, script := range []string{
		"/bin/sleep 30 & echo error child $!",
		// The grandchild's own output is closed: only the group kill can end it.
		"/bin/sleep 30 >/dev/null 2>&1 & echo error child $!",
		// A grandchild of a grandchild.
		"/bin/sh -c '/bin/sleep 30 & echo error child $!' & wait",
	} {
		got := run(t, CommandSpec{Argv: []string{"/bin/sh", "-c", script}}, nil)
		if got.Error != "" || len(got.Lines) != 1 {
			t.Fatalf("%s: %+v", script, got)
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(got.Lines[0], "error child "))
		if err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 5*time.Second, fmt.Sprintf("%q: background process %d ended", script, pid), func() bool { return !alive(pid) })
	}
}
