package app

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/ui"
)

// uiStatus is what the status page shows of the daemon.
type uiStatus struct{ a *App }

func (s uiStatus) Connection() ui.Connection {
	nc := s.a.nc
	c := ui.Connection{
		Connected: nc.IsConnected(), State: nc.Status().String(), Embedded: s.a.opts.NATSURL == "",
		URL: broker.RedactURLs(nc.ConnectedUrlRedacted()), Server: nc.ConnectedServerName(),
		Cluster: nc.ConnectedClusterName(), Reconnect: nc.Stats().Reconnects,
	}
	if c.Embedded {
		c.URL = "in process" // the embedded server's client connection has no network address
	}
	return c
}

// Streams reads every stream, bucket and consumer of the topology at once, each under ctx: a
// slow one costs its own row, not the others'.
func (s uiStatus) Streams(ctx context.Context) []ui.StreamStatus {
	var streams []ui.StreamStatus
	var consumers []broker.Object
	for _, o := range s.a.healedObjects(s.sinkNames()) {
		switch o.Kind {
		case "stream":
			streams = append(streams, ui.StreamStatus{Name: o.Name})
		case "bucket":
			streams = append(streams, ui.StreamStatus{Name: "KV_" + o.Name})
		case "consumer":
			consumers = append(consumers, o)
		}
	}
	found := make([]ui.ConsumerStatus, len(consumers))
	var wg sync.WaitGroup
	for i := range streams {
		wg.Go(func() { s.stream(ctx, &streams[i]) })
	}
	for i, o := range consumers {
		wg.Go(func() { found[i] = s.consumer(ctx, o) })
	}
	wg.Wait()
	for i, o := range consumers {
		for j := range streams {
			if streams[j].Name == o.Stream {
				streams[j].Consumers = append(streams[j].Consumers, found[i])
			}
		}
	}
	return streams
}

func (s uiStatus) stream(ctx context.Context, st *ui.StreamStatus) {
	str, err := s.a.js.Stream(ctx, st.Name)
	if err != nil {
		st.Err = err.Error()
		return
	}
	info := str.CachedInfo()
	st.Messages, st.Bytes = info.State.Msgs, info.State.Bytes
	st.MaxBytes, st.MaxAge, st.Replicas = info.Config.MaxBytes, info.Config.MaxAge, info.Config.Replicas
	if info.Cluster != nil {
		st.Leader = info.Cluster.Leader
	}
}

func (s uiStatus) consumer(ctx context.Context, o broker.Object) ui.ConsumerStatus {
	c := ui.ConsumerStatus{Name: o.Name}
	con, err := s.a.js.Consumer(ctx, o.Stream, o.Name)
	if err != nil {
		c.Err = err.Error()
		return c
	}
	info := con.CachedInfo()
	c.Pending, c.AckPending, c.Redelivered = info.NumPending, info.NumAckPending, info.NumRedelivered
	return c
}

func (s uiStatus) sinkNames() []string {
	names := make([]string, len(s.a.cfg.Sinks))
	for i, sk := range s.a.cfg.Sinks {
		names[i] = sk.Name
	}
	return names
}

func (s uiStatus) Sinks() []ui.SinkStatus {
	out := make([]ui.SinkStatus, len(s.a.cfg.Sinks))
	for i, sk := range s.a.cfg.Sinks {
		out[i] = ui.SinkStatus{Name: sk.Name, Type: sk.Type, Channel: sk.Channel, Consumer: s.a.names.SinkConsumer(sk.Name)}
	}
	return out
}

// Limits are the config's bounds in force: every setting of the sections below whose key
// names a maximum, a timeout or a window, so that one added to the config shows here too.
func (s uiStatus) Limits() []ui.Setting {
	c := s.a.cfg
	var out []ui.Setting
	for _, sec := range []struct {
		name string
		v    any
	}{
		{"ingest", c.Ingest}, {"nats", c.NATS}, {"triage", c.Triage}, {"incidents", c.Incidents},
		{"report", c.Report}, {"enrichment", c.Enrichment}, {"rules", c.Rules},
	} {
		out = append(out, limitsOf(sec.name, reflect.ValueOf(sec.v))...)
	}
	return out
}

func limitsOf(prefix string, v reflect.Value) []ui.Setting {
	var out []ui.Setting
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" || !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && f.Type.PkgPath() != "" && !strings.HasSuffix(f.Type.Name(), "Duration") {
			out = append(out, limitsOf(prefix+"."+key, fv)...)
			continue
		}
		if !isLimit(key) {
			continue
		}
		val := fmt.Sprint(fv.Interface())
		if fv.Kind() == reflect.Int64 && strings.HasSuffix(key, "_bytes") {
			val = bytesText(fv.Int())
		}
		out = append(out, ui.Setting{Key: prefix + "." + key, Value: val})
	}
	return out
}

func isLimit(key string) bool {
	for _, w := range []string{"max", "timeout", "window", "limit"} {
		if strings.Contains(key, w) {
			return true
		}
	}
	return false
}

// bytesText is a byte count with its binary size beside it; 0 is unbounded.
func bytesText(n int64) string {
	switch {
	case n <= 0:
		return "0 (unbounded)"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d (%d GiB)", n, n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d (%d MiB)", n, n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d (%d KiB)", n, n>>10)
	}
	return fmt.Sprint(n)
}

// endpoints are the daemon's HTTP endpoints as routes registers them; Write marks those behind
// --web.auth-token-file.
var endpoints = []ui.Endpoint{
	{Method: "POST", Path: "/api/v1/alerts", About: "Alertmanager webhook (v4)", Write: true},
	{Method: "POST", Path: "/api/v1/deploys", About: "deploy events from CI/CD", Write: true},
	{Method: "GET", Path: "/api/v1/incidents", About: "incidents, newest first; /{id}, /{id}/report.md, /{id}/postmortem.md, /{id}/graphs/{name}.png"},
	{Method: "GET", Path: "/api/v1/rules", About: "the rules in force, their match counts, the last reload"},
	{Method: "POST", Path: "/api/v1/rules/explain", About: "explain an alert or webhook, optionally with candidate rules", Write: true},
	{Method: "GET", Path: "/api/v1/rules/shadow", About: "what the shadow rules (rules.shadow_files) disagreed on"},
	{Method: "GET", Path: "/api/v1/dead-letters", About: "the dead letters, newest first (?limit=N)"},
	{Method: "POST", Path: "/api/v1/dead-letters/{id}/replay", About: "replay a dead letter on the subject it came from", Write: true},
	{Method: "GET", Path: "/metrics", About: "Prometheus metrics"},
	{Method: "GET", Path: "/-/healthy", About: "liveness"},
	{Method: "GET", Path: "/-/ready", About: "readiness"},
	{Method: "POST", Path: "/-/reload", About: "reload the rule files, the shadow rules and the bearer tokens", Write: true},
	{Method: "GET", Path: "/", About: "the web UI: incidents, rules, playground, deploys, dead letters, status"},
}

func (s uiStatus) Endpoints() []ui.Endpoint { return endpoints }
