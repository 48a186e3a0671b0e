package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/app"
)

// group is one Alertmanager group of the load: its alerts are numbered from 0, and alert i's
// labels name the group and i (group="g000042", instance="host-7"), so a member found in the
// incidents bucket tells which group it was sent in. Its fingerprint cannot: triaged identifies an
// alert by the fingerprint of its labels, not the one the sender writes.
type group struct {
	alertname string
	id        int
}

func (g group) name() string { return fmt.Sprintf("g%06d", g.id) }

// key is the group key Alertmanager would send: its route's matchers and the group labels.
func (g group) key() string {
	return fmt.Sprintf(`{}:{alertname=%q, group=%q}`, g.alertname, g.name())
}

func (g group) fingerprint(i int) string { return fmt.Sprintf("%08x%08x", g.id, i) }

// memberOf reads back the group id and alert number of an incident's member from its labels.
func memberOf(m triaged.Member) (id, i int, ok bool) {
	gs, ok1 := strings.CutPrefix(m.Labels["group"], "g")
	is, ok2 := strings.CutPrefix(m.Labels["instance"], "host-")
	a, err1 := strconv.Atoi(gs)
	b, err2 := strconv.Atoi(is)
	return a, b, ok1 && ok2 && err1 == nil && err2 == nil && a >= 0 && b >= 0
}

// webhook is an Alertmanager v4 webhook of the group's firing alerts first..first+n-1.
func (g group) webhook(first, n int, startsAt time.Time) []byte {
	var b bytes.Buffer
	b.Grow(256 + n*420)
	start := startsAt.UTC().Format(time.RFC3339Nano)
	svc := fmt.Sprintf("svc-%02d", g.id%20)
	common := fmt.Sprintf(`"alertname":%q,"group":%q,"service":%q,"env":"prod","severity":"critical"`, g.alertname, g.name(), svc)
	b.WriteString(`{"receiver":"triaged","status":"firing","alerts":[`)
	for i := first; i < first+n; i++ {
		if i > first {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"status":"firing","labels":{%s,"instance":"host-%d"},"annotations":{"summary":"load test alert %d of %s"},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph","fingerprint":%q}`,
			common, i, i, g.name(), start, g.fingerprint(i))
	}
	fmt.Fprintf(&b, `],"groupLabels":{"alertname":%q,"group":%q},"commonLabels":{%s},"commonAnnotations":{},"externalURL":"http://alertmanager:9093","version":"4","groupKey":%q,"truncatedAlerts":0}`,
		g.alertname, g.name(), common, g.key())
	return b.Bytes()
}

// delivered counts successful deliveries to the sinks, from the daemon's own metrics.
func delivered(a *app.App) int { return counter(a, "triaged_notifications_total", "result", "success") }

// counter sums the daemon's counter name over its series, or over those with the label pairs given.
func counter(a *app.App, name string, labels ...string) int {
	mfs, err := a.Registry().Gather()
	if err != nil {
		return 0
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				if !slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] }) {
					continue series
				}
			}
			n += int(m.GetCounter().GetValue())
		}
	}
	return n
}

// peakRSS is the peak resident set size of process pid ("self" for this one), from
// /proc/PID/status, in bytes; 0 where /proc is not there.
func peakRSS(pid string) int64 { return procStatus(pid, "VmHWM:") }

// rss is the current resident set size of process pid, in bytes.
func rss(pid string) int64 { return procStatus(pid, "VmRSS:") }

func procStatus(pid, field string) int64 {
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the CPU time process pid ("self") has used, user and system, from /proc/PID/stat.
func cpuTime(pid string) time.Duration {
	data, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command, which is in parentheses and may hold spaces.
	_, rest, _ := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

// resetPeakRSS starts the peak RSS afresh (Linux ≥ 4.0), so that each storm's peak is its own.
func resetPeakRSS() error { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }
