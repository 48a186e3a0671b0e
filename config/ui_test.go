package config_test

import (
	"strings"
	"testing"

	"github.com/triaged/triaged/config"
)

// The web UI's bounds are checked where they are set, with the key and its position.
func TestUIBounds(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"ui:\n  max_incidents: 10\n", `t.yml:2:18: ui.max_incidents: 10 is out of range 100..1000000`},
		{"ui:\n  max_live_clients: 0\n", `t.yml:2:21: ui.max_live_clients: 0 is out of range 1..10000`},
	} {
		_, err := config.Load([]byte(tc.yaml), "t.yml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
	c, err := config.Load([]byte("ui:\n  max_incidents: 500\n  max_live_clients: 3\n"), "t.yml")
	if err != nil || c.UI.MaxIncidents != 500 || c.UI.MaxLiveClients != 3 {
		t.Errorf("got %+v, %v", c.UI, err)
	}
}
