package config_test

import (
	"strings"
	"testing"

	"github.com/triaged/triaged/config"
)

// The deploy index's bounds are checked where they are set, with the key and its position.
func TestDeployIndexBounds(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"enrichment:\n  deploys_max_per_service: 0\n", `t.yml:2:28: enrichment.deploys_max_per_service: 0 is out of range 1..1000000`},
		{"enrichment:\n  deploys_max_services: -1\n", `t.yml:2:25: enrichment.deploys_max_services: -1 is out of range 1..1000000`},
		{"enrichment:\n  deploys_max_events: 10\n  deploys_max_services: 20\n", `t.yml:2:23: enrichment.deploys_max_events: 10 is less than enrichment.deploys_max_services 20: every service tracked must keep at least one event`},
		{"enrichment:\n  deploys_max_clock_skew: 0s\n", `t.yml:2:27: enrichment.deploys_max_clock_skew: must be a positive duration, got 0s`},
	} {
		_, err := config.Load([]byte(tc.yaml), "t.yml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
	c, err := config.Load([]byte("enrichment:\n  deploys_max_per_service: 50\n  deploys_max_clock_skew: 1m\n"), "t.yml")
	if err != nil || c.Enrichment.DeploysMaxPerService != 50 || c.Enrichment.DeploysMaxClockSkew.Std().String() != "1m0s" {
		t.Errorf("got %+v, %v", c.Enrichment, err)
	}
}
