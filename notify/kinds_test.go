package notify

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/triaged/triaged/internal/fielderr"
)

func TestSinkTypes(t *testing.T) {
	want := []string{"stdout", "file", "slack", "slack_webhook", "mattermost", "mattermost_webhook", "teams", "webhook"}
	if got := SinkTypes(); !slices.Equal(got, want) {
		t.Errorf("SinkTypes() = %q, want %q in the docs' order", got, want)
	}
}

func TestPlanSinkErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   SinkConfig
		field string
		msg   string
	}{
		{SinkConfig{Name: "out", Type: "pager"}, "type", `unknown sink type "pager" (known: ` + strings.Join(SinkTypes(), ", ") + ")"},
		{SinkConfig{Name: "out", Type: ""}, "type", `unknown sink type "" (known: ` + strings.Join(SinkTypes(), ", ") + ")"},
		{SinkConfig{Name: "out", Type: "stdout", Path: "x"}, "path", "a stdout sink takes no path"},
		{SinkConfig{Name: "out", Type: "file"}, "path", "a file sink needs a path"},
	} {
		plan, err := PlanSink(tc.cfg)
		fes := fielderr.List(err)
		if plan != nil || len(fes) != 1 || fes[0].Field != tc.field || fes[0].Msg != tc.msg {
			t.Errorf("PlanSink(%+v) = %v, %v; want %s: %s", tc.cfg, plan, err, tc.field, tc.msg)
		}
	}
}

// TestPlanThenOpen: planning a file sink touches nothing; opening it creates the file and names
// the sink as the config does.
func TestPlanThenOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reports", "reports.jsonl")
	plan, err := PlanSink(SinkConfig{Name: "archive", Type: "file", Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("PlanSink touched the file system (stat: %v)", err)
	}
	sink, closeSink, err := plan.Open(SinkEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if sink.Name() != "archive" {
		t.Errorf("opened sink is named %q, want its config name", sink.Name())
	}
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()}); err != nil {
		t.Fatal(err)
	}
	if err := closeSink(); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(path); err != nil || !strings.Contains(string(data), openedP1().ID) {
		t.Errorf("report not in the file: %q, %v", data, err)
	}
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()}); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Deliver after close: %v, want os.ErrClosed", err)
	}

	plan, err = PlanSink(SinkConfig{Name: "term", Type: "stdout"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := plan.Open(SinkEnv{}); err == nil {
		t.Error("a stdout sink opened without a writer and a renderer")
	}
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sink, closeSink, err = plan.Open(SinkEnv{Stdout: &out, Renderer: r})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Deliver(context.Background(), Delivery{Report: openedP1()}); err != nil || sink.Name() != "term" || out.Len() == 0 {
		t.Errorf("stdout sink %q printed %d bytes, %v", sink.Name(), out.Len(), err)
	}
	if err := closeSink(); err != nil {
		t.Error(err)
	}
}
