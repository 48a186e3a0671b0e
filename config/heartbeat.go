package config

import (
	"fmt"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
)

// Heartbeat is the alerting pipeline's dead man's switch: alerts matching Matchers (Prometheus'
// always-firing Watchdog) are never reported; an Alertmanager that sent them and then stays
// silent for longer than Interval opens a P1 incident, resolved when they resume.
type Heartbeat struct {
	Enabled bool `yaml:"enabled"`
	// Matchers are Alertmanager matchers (`alertname="Watchdog"`), all of which a heartbeat
	// alert matches.
	Matchers []string `yaml:"matchers"`
	// Interval must exceed the Watchdog route's repeat_interval plus its group_interval, the
	// longest Alertmanager waits before sending the heartbeat again.
	Interval Duration `yaml:"interval"`
}

func defaultHeartbeat() Heartbeat {
	return Heartbeat{Enabled: true, Matchers: []string{`alertname="Watchdog"`}, Interval: Duration(5 * time.Minute)}
}

// HeartbeatMatchers parses the heartbeat's matchers; nil when the heartbeat is disabled.
// Validation has checked them.
func (c *Config) HeartbeatMatchers() labels.Matchers {
	if !c.Heartbeat.Enabled {
		return nil
	}
	ms, _ := parseMatchers(c.Heartbeat.Matchers)
	return ms
}

func parseMatchers(in []string) (labels.Matchers, error) {
	var out labels.Matchers
	for i, s := range in {
		m, err := labels.ParseMatcher(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %q: %w", i, s, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func (c *Config) validateHeartbeat(v check) {
	h := c.Heartbeat
	if !h.Enabled {
		return
	}
	v.positive("heartbeat.interval", h.Interval)
	if len(h.Matchers) == 0 {
		v.At("heartbeat.matchers", "an enabled heartbeat needs at least one matcher, such as 'alertname=\"Watchdog\"'")
	}
	for i, s := range h.Matchers {
		if _, err := labels.ParseMatcher(s); err != nil {
			v.At(fmt.Sprintf("heartbeat.matchers[%d]", i), "%q is no Alertmanager matcher: %v", s, err)
		}
	}
}
