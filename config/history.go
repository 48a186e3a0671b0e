package config

import "time"

// MinHistoryMaxAge is the least history that may be kept, when any is: a backtest of less than a
// day of traffic misses the day's pattern (business hours, nightly jobs) that rules decide on.
const MinHistoryMaxAge = 24 * time.Hour

// HistoryEnabled says whether triage keeps its history (nats.history_max_age is not 0).
func (n NATS) HistoryEnabled() bool { return n.HistoryMaxAge > 0 }

// validateHistory checks the history's age: 0 turns it off, anything else is at least a day.
// (Its max_bytes is checked with the other streams', in validateLimits.)
func (c *Config) validateHistory(v check) {
	n := c.NATS
	if n.HistoryMaxAge != 0 && n.HistoryMaxAge.Std() < MinHistoryMaxAge {
		v.At("nats.history_max_age", "%s is below the minimum of 1d (0s keeps no history)", n.HistoryMaxAge)
	}
}
