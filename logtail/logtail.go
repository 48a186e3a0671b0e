package logtail

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/confval"
	"github.com/triaged/triaged/internal/fielderr"
	"github.com/triaged/triaged/internal/target"
	"github.com/triaged/triaged/redact"
)

// Defaults and limits; README.md explains each.
const (
	DefaultLines          = 100
	MaxLines              = 1000
	DefaultMaxBytes       = 16 << 10
	DefaultScanBytes      = 1 << 20
	DefaultTimeout        = 5 * time.Second
	DefaultMaxOutputBytes = 64 << 10
	// MaxLineBytes is where a line is cut in the result, with LineCutMarker appended.
	MaxLineBytes = 1 << 10
	// LineCutMarker ends a line that was longer than MaxLineBytes.
	LineCutMarker = " …[line truncated]"
)

// DefaultFilter keeps error-like lines, the ones an on-call engineer looks for first: the same
// lines escalation rules see as error_lines.
const DefaultFilter = triaged.ErrorLinePattern

// Spec is one log source as the config writes it: exactly one of File or Command.
type Spec struct {
	// Name labels the excerpt; it defaults to the path or the command line.
	Name    string       `yaml:"name,omitempty"`
	File    *FileSpec    `yaml:"file,omitempty"`
	Command *CommandSpec `yaml:"command,omitempty"`
}

// FileSpec is the end of a log file, read backwards from its end.
type FileSpec struct {
	// Path is the file, or a template over alert labels, which needs Allow. The filled path must
	// also be absolute and clean (no "..").
	Path  string `yaml:"path"`
	Allow string `yaml:"allow,omitempty"`
	// Lines is how many matching lines to return, newest last; default 100, at most 1000.
	Lines int `yaml:"lines,omitempty"`
	// Filter keeps only matching lines; default DefaultFilter; "." keeps every non-empty line.
	Filter string `yaml:"filter,omitempty"`
	// MaxBytes caps the returned lines in total, oldest dropped first; default 16 KiB.
	MaxBytes int `yaml:"max_bytes,omitempty"`
	// ScanBytes is how far back from the end the file (and path.1 after it) is read looking for
	// matching lines; default 1 MiB. It is what keeps a tail of a huge file fast.
	ScanBytes int64 `yaml:"scan_bytes,omitempty"`
}

// CommandSpec is the output of a program run without a shell (kubectl logs, journalctl, …).
type CommandSpec struct {
	// Argv is the program and its arguments. argv[0] is a literal: an absolute path or a name
	// looked up in the daemon's PATH. Other elements may be templates over alert labels, which
	// need Allow: each filled element must match it whole.
	Argv  []string `yaml:"argv"`
	Allow string   `yaml:"allow,omitempty"`
	// Env is the program's whole environment: nothing of the daemon's is passed, not even PATH.
	Env map[string]string `yaml:"env,omitempty"`
	// Dir is the working directory; default the daemon's.
	Dir string `yaml:"dir,omitempty"`
	// Timeout kills the program and its process group; default 5s.
	Timeout confval.Duration `yaml:"timeout,omitempty"`
	// MaxOutputBytes is how much of stdout and stderr (interleaved) is kept: the last bytes,
	// since logs end with the newest lines; default 64 KiB.
	MaxOutputBytes int    `yaml:"max_output_bytes,omitempty"`
	Lines          int    `yaml:"lines,omitempty"`
	Filter         string `yaml:"filter,omitempty"`
	MaxBytes       int    `yaml:"max_bytes,omitempty"`
}

// FieldError is a problem at one field of a Spec; Field is relative to the spec ("file.path").
type FieldError = fielderr.Error

// Compiled is a validated Spec, ready to read any number of times, concurrently.
type Compiled struct {
	name     string
	lines    int
	maxBytes int
	filter   *filter
	file     *compiledFile
	cmd      *compiledCommand
}

type compiledFile struct {
	path      *target.Value
	scanBytes int64
}

type compiledCommand struct {
	argv      []*target.Value
	env       []string
	dir       string
	timeout   time.Duration
	maxOutput int
}

// Name is the name the excerpt carries ("" when it is the filled target).
func (c *Compiled) Name() string { return c.name }

// Kind is "file" or "command".
func (c *Compiled) Kind() string {
	if c.file != nil {
		return "file"
	}
	return "command"
}

// Validate reports every problem of the spec; see Compile.
func (s Spec) Validate() error {
	_, err := Compile(s)
	return err
}

// Compile checks a spec and prepares it to run. Every problem is reported at once, as
// *FieldError values joined with errors.Join; fielderr.List or errors.As take them apart.
func Compile(s Spec) (*Compiled, error) {
	var errs []*FieldError
	bad := func(field, format string, args ...any) { errs = append(errs, fielderr.Errorf(field, format, args...)) }
	c := &Compiled{name: strings.TrimSpace(s.Name)}
	switch {
	case s.File != nil && s.Command != nil:
		bad("", "a log source has exactly one of file or command, not both")
	case s.File != nil:
		f := s.File
		c.lines, c.maxBytes, c.filter = compileCommon("file", f.Lines, f.MaxBytes, f.Filter, bad)
		c.file = &compiledFile{scanBytes: f.ScanBytes}
		switch {
		case f.ScanBytes == 0:
			c.file.scanBytes = DefaultScanBytes
		case f.ScanBytes < 4<<10 || f.ScanBytes > 256<<20:
			bad("file.scan_bytes", "%d is out of range 4096..268435456", f.ScanBytes)
		}
		c.file.path = compileTarget("file.path", "file.allow", f.Path, f.Allow, bad)
	case s.Command != nil:
		m := s.Command
		c.lines, c.maxBytes, c.filter = compileCommon("command", m.Lines, m.MaxBytes, m.Filter, bad)
		c.cmd = compileCommand(m, bad)
	default:
		bad("", "a log source needs one of file or command")
	}
	if len(errs) > 0 {
		return nil, fielderr.Join(errs)
	}
	return c, nil
}

func compileCommon(kind string, lines, maxBytes int, pattern string, bad func(string, string, ...any)) (int, int, *filter) {
	switch {
	case lines == 0:
		lines = DefaultLines
	case lines < 1 || lines > MaxLines:
		bad(kind+".lines", "%d is out of range 1..%d", lines, MaxLines)
	}
	switch {
	case maxBytes == 0:
		maxBytes = DefaultMaxBytes
	case maxBytes < 1<<10 || maxBytes > 1<<20:
		bad(kind+".max_bytes", "%d is out of range 1024..1048576", maxBytes)
	}
	if pattern == "" {
		pattern = DefaultFilter
	}
	f, err := newFilter(pattern)
	if err != nil {
		bad(kind+".filter", "invalid pattern %q: %v", pattern, err)
	}
	return lines, maxBytes, f
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func compileCommand(m *CommandSpec, bad func(string, string, ...any)) *compiledCommand {
	c := &compiledCommand{timeout: m.Timeout.Std(), maxOutput: m.MaxOutputBytes, dir: m.Dir}
	switch {
	case m.Timeout == 0:
		c.timeout = DefaultTimeout
	case m.Timeout < 0:
		bad("command.timeout", "must not be negative, got %s", m.Timeout)
	}
	switch {
	case m.MaxOutputBytes == 0:
		c.maxOutput = DefaultMaxOutputBytes
	case m.MaxOutputBytes < 1<<10 || m.MaxOutputBytes > 16<<20:
		bad("command.max_output_bytes", "%d is out of range 1024..16777216", m.MaxOutputBytes)
	}
	if m.Dir != "" && !filepath.IsAbs(m.Dir) {
		bad("command.dir", "%q is not an absolute path", m.Dir)
	}
	// The environment is built here, sorted, once: it is the same for every run.
	for _, k := range sortedKeys(m.Env) {
		switch v := m.Env[k]; {
		case !envName.MatchString(k):
			bad("command.env", "%q is not a valid variable name", k)
		case strings.ContainsRune(v, 0):
			bad("command.env."+k, "value contains NUL")
		default:
			c.env = append(c.env, k+"="+v)
		}
	}
	if len(m.Argv) == 0 {
		bad("command.argv", "required: the program and its arguments, e.g. [journalctl, -u, checkout, -n, \"200\"]")
		return c
	}
	allow, err := target.CompileAllow(m.Allow)
	if err != nil {
		bad("command.allow", "%v", err)
		return c
	}
	switch prog := m.Argv[0]; {
	case strings.TrimSpace(prog) == "":
		bad("command.argv[0]", "empty program name")
	case strings.Contains(prog, "{{"):
		bad("command.argv[0]", "%q: the program cannot be a template; only its arguments can", prog)
	case strings.ContainsRune(prog, '/') && !filepath.IsAbs(prog):
		bad("command.argv[0]", "%q: use an absolute path or a program name found in PATH", prog)
	}
	c.argv = append(c.argv, target.Literal(m.Argv[0]))
	refuseFilledCode(m.Argv, bad)
	templates := 0
	for i, a := range m.Argv[1:] {
		field := fmt.Sprintf("command.argv[%d]", i+1)
		if strings.Contains(a, "{{") {
			templates++ // counted even if it fails to parse, so allow is not reported unused
		}
		if strings.ContainsRune(a, 0) {
			bad(field, "contains NUL")
			continue
		}
		v, err := target.Parse(field, a, allow)
		if err != nil {
			bad(field, "%v", err)
			continue
		}
		c.argv = append(c.argv, v)
	}
	if allow != nil && templates == 0 {
		bad("command.allow", "set, but no argv element is a template: an allow pattern only checks values filled from labels")
	}
	return c
}

// compileTarget parses a field that alert labels may fill, with its allow pattern.
func compileTarget(field, allowField, raw, allowRaw string, bad func(string, string, ...any)) *target.Value {
	v, errs := target.ParseField(field, allowField, raw, allowRaw)
	for _, e := range errs {
		bad(e.Field, "%s", e.Msg)
	}
	return v
}

// Tail reads the source for an alert's labels and returns its excerpt: at most the configured
// number of lines, each cut at MaxLineBytes, MaxBytes in all, every line redacted by r (nil: the
// built-in patterns). It never fails: a refused target, a missing file or a failed command is
// an excerpt with Error set, and whatever lines were read are kept.
func Tail(ctx context.Context, c *Compiled, labels map[string]string, r *redact.Redactor) triaged.LogTail {
	var (
		res  triaged.LogTail
		raw  []line
		trun bool
	)
	if c.file != nil {
		res.Source = c.file.path.String()
		raw, trun = c.tailFile(ctx, labels, &res)
	} else {
		res.Source = commandLine(c.cmd.argv, nil)
		raw, trun = c.runCommand(ctx, labels, &res)
	}
	if c.name != "" {
		res.Source = c.name
	}
	res.Lines, res.Truncated = finish(raw, r, c.maxBytes)
	res.Truncated = res.Truncated || trun
	res.Source = r.String(res.Source)
	res.Error = r.String(res.Error)
	return res
}

// commandLine renders argv for a reader, quoting what a shell user would quote. With filled
// values, it shows them; otherwise the config's text.
func commandLine(argv []*target.Value, filled []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		s := a.String()
		if filled != nil {
			s = filled[i]
		}
		if s == "" || strings.ContainsAny(s, " \t\n\"'\\$`;&|<>(){}*?[]#~") {
			s = strconv.Quote(s)
		}
		parts[i] = s
	}
	return strings.Join(parts, " ")
}

// line is one log line as read, before redaction; cut says it was longer than the scan kept.
type line struct {
	text string
	cut  bool
}

// finish turns the kept lines (oldest first) into the result: redacted, each cut at MaxLineBytes,
// and the oldest dropped until the whole fits maxBytes. Redaction runs on the lines joined, so a
// secret spread over lines (a private key block) is found, and before any cut, so a cut cannot
// split a secret out of the pattern that would have found it.
func finish(lines []line, r *redact.Redactor, maxBytes int) ([]string, bool) {
	out := []string{}
	if len(lines) == 0 {
		return out, false
	}
	texts := make([]string, len(lines))
	truncated := false
	for i, l := range lines {
		texts[i] = l.text
		truncated = truncated || l.cut
	}
	red := strings.Split(r.String(strings.Join(texts, "\n")), "\n")
	for i, s := range red {
		red[i] = cutLine(s, i < len(lines) && lines[i].cut && len(red) == len(lines))
		truncated = truncated || len(red[i]) != len(s)
	}
	total, first := 0, len(red)
	for first > 0 && total+len(red[first-1])+1 <= maxBytes {
		first--
		total += len(red[first]) + 1
	}
	if first > 0 {
		truncated = true
	}
	return append(out, red[first:]...), truncated
}

// cutLine shortens s to MaxLineBytes on a rune boundary, marking the cut; a line the scan already
// cut is marked even when it fits.
func cutLine(s string, alreadyCut bool) string {
	if len(s) <= MaxLineBytes {
		if alreadyCut {
			return s + LineCutMarker
		}
		return s
	}
	n := MaxLineBytes
	for n > 0 && s[n]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		n--
	}
	return s[:n] + LineCutMarker
}

// ansi matches terminal escape sequences (colours, cursor moves) that log tools emit.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]`)

// clean makes a raw line safe and readable in a report: valid UTF-8, no terminal escapes, no
// control characters but tabs. It runs before the filter, so "\x1b[31mERROR" matches \bERROR.
func clean(b []byte) string {
	s := strings.TrimRight(string(b), "\r")
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansi.ReplaceAllString(s, "")
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.IndexFunc(s, isControl) >= 0 {
		s = strings.Map(func(r rune) rune {
			if isControl(r) {
				return -1
			}
			return r
		}, s)
	}
	return s
}

func isControl(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }

// errorText prefers the cause of a cancelled context ("timed out after 5s").
func errorText(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			return cause.Error()
		}
	}
	return err.Error()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
