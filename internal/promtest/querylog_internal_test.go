package promtest

import (
	"strings"
	"testing"
	"time"
)

func TestParseQueryLog(t *testing.T) {
	log := `{"httpRequest":{"clientIP":"127.0.0.1","method":"POST","path":"/api/v1/query"},"params":{"end":"2026-12-01T19:48:04.252Z","query":"up{x=\"\\\"} or vector(1) or {x=\\\"\"}","start":"2026-12-01T19:48:04.252Z","step":0},"stats":{},"ts":"2026-12-01T19:48:04.253Z"}
{"params":{"end":"2026-12-01T19:48:04.259Z","query":"vector(1) > 0","start":"2026-12-01T19:48:04.259Z","step":0},"ruleGroup":{"file":"/tmp/rules.yml","name":"g"},"ts":"2026-12-01T19:48:04.266Z"}
{"httpRequest":{"path":"/api/v1/query_range"},"params":{"end":"2026-12-01T19:48:10Z","query":"up\n# promtest","start":"2026-12-01T19:47:10Z","step":15},"ts":"2026-12-01T19:48:10.001Z"}
{"httpRequest":{"path":"/api/v1/query"},"params":{"query":"still being wri`
	got, err := parseQueryLog([]byte(log))
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	want := []QueryLogEntry{
		{Query: `up{x="\"} or vector(1) or {x=\""}`, Start: at("2026-12-01T19:48:04.252Z"), End: at("2026-12-01T19:48:04.252Z"),
			Path: "/api/v1/query", Logged: at("2026-12-01T19:48:04.253Z")},
		{Query: "vector(1) > 0", Start: at("2026-12-01T19:48:04.259Z"), End: at("2026-12-01T19:48:04.259Z"),
			RuleGroup: "g", Logged: at("2026-12-01T19:48:04.266Z")},
		{Query: "up", Start: at("2026-12-01T19:47:10Z"), End: at("2026-12-01T19:48:10Z"), Step: 15 * time.Second,
			Path: "/api/v1/query_range", Harness: true, Logged: at("2026-12-01T19:48:10.001Z")},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d (the line being written left out): %+v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || !got[i].End.Equal(want[i].End) || !got[i].Logged.Equal(want[i].Logged) {
			t.Errorf("entry %d times %+v, want %+v", i, got[i], want[i])
		}
		got[i].Start, got[i].End, got[i].Logged = want[i].Start, want[i].End, want[i].Logged
		if got[i] != want[i] {
			t.Errorf("entry %d\n %+v, want\n %+v", i, got[i], want[i])
		}
	}

	if _, err := parseQueryLog([]byte("{}\nnot json\n")); err == nil || !strings.HasPrefix(err.Error(), "line 2: ") {
		t.Errorf("a broken line: error %v, want it placed at line 2", err)
	}
}
