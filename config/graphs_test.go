package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/config"
)

func TestGraphsBucketLimits(t *testing.T) {
	d := config.Default()
	if d.NATS.GraphsMaxBytes != 256<<20 || d.NATS.GraphsMaxAge.Std() != d.NATS.IncidentsMaxAge.Std() || d.NATS.GraphsMaxAge.Std() != 30*24*time.Hour {
		t.Errorf("defaults: graphs_max_bytes %d, graphs_max_age %v; want 256 MiB and the incidents' 30d", d.NATS.GraphsMaxBytes, d.NATS.GraphsMaxAge.Std())
	}
	c, err := config.Load([]byte("nats:\n  graphs_max_bytes: 67108864\n  graphs_max_age: 7d\n"), "g.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.NATS.GraphsMaxBytes != 64<<20 || c.NATS.GraphsMaxAge.Std() != 7*24*time.Hour {
		t.Errorf("loaded graphs_max_bytes %d, graphs_max_age %v", c.NATS.GraphsMaxBytes, c.NATS.GraphsMaxAge.Std())
	}
	for _, tt := range []struct{ yml, want string }{
		{"nats:\n  graphs_max_age: 0s\n", "g.yml:2:19: nats.graphs_max_age: must be a positive duration, got 0s"},
		{"nats:\n  graphs_max_bytes: 1024\n", "nats.graphs_max_bytes: 1024 is below the minimum"},
	} {
		_, err := config.Load([]byte(tt.yml), "g.yml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.yml, err, tt.want)
		}
	}
}
