package config_test

import (
	"strings"
	"testing"

	"github.com/triaged/triaged/config"
)

// The heartbeat's matchers are Alertmanager's: one that does not parse is refused at its key.
func TestHeartbeatIsChecked(t *testing.T) {
	for _, tc := range []struct {
		name, yml string
		want      []string // "" for a good config
		matchers  int
	}{
		{name: "default", yml: "", matchers: 1},
		{name: "disabled", yml: "heartbeat:\n  enabled: false\n  matchers: ['alertname=~(']\n", matchers: 0},
		{name: "custom", yml: "heartbeat:\n  matchers: ['alertname=\"DeadMansSwitch\"', 'team!=\"x\"']\n  interval: 10m\n", matchers: 2},
		{name: "bad", yml: "heartbeat:\n  matchers: ['alertname=\"Watchdog\"', 'alertname=~\"(\"']\n  interval: 0s\n", want: []string{
			`bad.yml:2:38: heartbeat.matchers[1]: "alertname=~\"(\"" is no Alertmanager matcher`,
			"bad.yml:3:13: heartbeat.interval: must be a positive duration, got 0s",
		}},
		{name: "none", yml: "heartbeat:\n  matchers: []\n", want: []string{"none.yml:2:13: heartbeat.matchers: an enabled heartbeat needs at least one matcher"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load([]byte(tc.yml), tc.name+".yml")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got := len(c.HeartbeatMatchers()); got != tc.matchers {
					t.Errorf("%d matchers, want %d", got, tc.matchers)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
