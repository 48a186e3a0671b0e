package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/internal/natstest"
)

// The graphs bucket is made with the configured size and age, keeps as long as the incidents
// when its age is not set, and refuses new graphs when full.
func TestGraphsBucket(t *testing.T) {
	ns := natstest.Server(t)
	_, js := natstest.Connect(t, ns)
	ctx := context.Background()
	names := broker.MustNames("my-triage")
	if got := names.GraphsBucket(); got != "MY_TRIAGE_GRAPHS" {
		t.Errorf("GraphsBucket() = %q, want MY_TRIAGE_GRAPHS", got)
	}

	o := broker.DefaultTopologyOptions()
	o.GraphsMaxAge = 0
	o.IncidentsMaxAge = 48 * time.Hour
	topo, err := broker.Ensure(ctx, js, names, o)
	if err != nil {
		t.Fatal(err)
	}
	st, err := topo.Graphs.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bucket() != "MY_TRIAGE_GRAPHS" || st.TTL() != 48*time.Hour || st.History() != 1 {
		t.Errorf("graphs bucket %s: ttl %v, history %d; want MY_TRIAGE_GRAPHS, the incidents' 48h, 1", st.Bucket(), st.TTL(), st.History())
	}

	o.GraphsMaxAge, o.GraphsMaxBytes = 6*time.Hour, 32<<10
	if topo, err = broker.Ensure(ctx, js, names, o); err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, "KV_MY_TRIAGE_GRAPHS")
	if err != nil {
		t.Fatal(err)
	}
	if c := info.CachedInfo().Config; c.MaxAge != 6*time.Hour || c.MaxBytes != 32<<10 {
		t.Errorf("graphs bucket: max age %v, max bytes %d; want 6h, 32 KiB", c.MaxAge, c.MaxBytes)
	}

	png := []byte(strings.Repeat("p", 10<<10))
	var full error
	for i := 0; i < 10 && full == nil; i++ {
		_, full = topo.Graphs.Put(ctx, fmt.Sprintf("20261126-x-%02d.alert", i), png)
	}
	if api := (*jetstream.APIError)(nil); !errors.As(full, &api) || api.ErrorCode != 10077 {
		t.Fatalf("10 graphs of 10 KiB in a bucket of 32 KiB: %v, want maximum bytes exceeded", full)
	}
}
