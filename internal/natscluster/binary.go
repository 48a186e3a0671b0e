package natscluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// module is the nats-server main package, at the version triaged's go.mod requires.
const module = "github.com/nats-io/nats-server/v2"

var build struct {
	once sync.Once
	path string
	err  error
}

// Binary builds nats-server from the module in go.mod once per test binary run and returns its
// path. The build goes to a directory under os.TempDir and is renamed into place, so test
// binaries of several packages building at once never run a half-written file. A binary built
// from a released module version is kept under that version's name and reused by later runs
// (module versions do not change); the Go build cache makes every other build after the first
// on a machine take 2–5 s; the first, compiling nats-server and its dependencies from an empty
// cache, took 232 s at low priority on a shared 2-core machine.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		begun := time.Now()
		build.path, build.err = buildBinary()
		if build.err == nil {
			t.Logf("natscluster: built %s in %s", build.path, time.Since(begun).Round(time.Millisecond))
		}
	})
	if build.err != nil {
		t.Fatalf("natscluster: %v", build.err)
	}
	return build.path
}

func buildBinary() (string, error) {
	dir := filepath.Join(os.TempDir(), "triaged-natscluster")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building nats-server needs the go command: %w", err)
	}
	path := filepath.Join(dir, "nats-server")
	// The test runs in its package's directory inside the module, so this is go.mod's version.
	if v := moduleVersion(gobin); v != "" {
		path += "-" + v
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
	}
	tmp, err := os.CreateTemp(dir, "nats-server-*.tmp")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // gone after the rename; left after a failed build
	cmd := exec.Command(gobin, "build", "-o", tmp.Name(), module)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", module, err, out)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// moduleVersion is the version of the nats-server module go.mod requires, "" when it is not a
// released version (replaced, or a pseudo-version), whose binary must be built every time.
func moduleVersion(gobin string) string {
	out, err := exec.Command(gobin, "list", "-m", "-f", "{{.Version}}{{if .Replace}} replaced{{end}}", module).Output()
	if err != nil {
		return ""
	}
	v := strings.TrimSpace(string(out))
	if !release.MatchString(v) {
		return ""
	}
	return v
}

// release matches a released module version; pseudo-versions and pre-releases have a "-".
var release = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+$`)
