package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/triaged/triaged/config"
)

func TestHistoryLimits(t *testing.T) {
	d := config.Default()
	if d.NATS.HistoryMaxBytes != 1<<30 || d.NATS.HistoryMaxAge.Std() != 14*24*time.Hour || !d.NATS.HistoryEnabled() {
		t.Errorf("defaults: history_max_bytes %d, history_max_age %v; want 1 GiB and 14d, kept", d.NATS.HistoryMaxBytes, d.NATS.HistoryMaxAge.Std())
	}
	for _, tt := range []struct {
		yml     string
		want    string // the error, "" for none
		enabled bool
	}{
		{"nats:\n  history_max_age: 30d\n  history_max_bytes: 67108864\n", "", true},
		{"nats:\n  history_max_age: 1d\n", "", true},
		{"nats:\n  history_max_age: 0s\n", "", false},
		{"nats:\n  history_max_age: 12h\n", "h.yml:2:20: nats.history_max_age: 12h is below the minimum of 1d (0s keeps no history)", false},
		{"nats:\n  history_max_bytes: 1024\n", "nats.history_max_bytes: 1024 is below the minimum", false},
	} {
		c, err := config.Load([]byte(tt.yml), "h.yml")
		if tt.want == "" {
			if err != nil || c.NATS.HistoryEnabled() != tt.enabled {
				t.Errorf("%q: %v, history enabled %v; want it to load, enabled %v", tt.yml, err, err == nil && c.NATS.HistoryEnabled(), tt.enabled)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.yml, err, tt.want)
		}
	}
}
