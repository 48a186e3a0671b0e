package app

import (
	"slices"

	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/triage"
)

// setupHistory returns the writer of the history triage keeps for backtests, its teardown (wait
// for the records in flight) registered beside it, or nil when nats.history_max_age is 0.
func (a *App) setupHistory() (triage.HistoryWriter, error) {
	if !a.cfg.NATS.HistoryEnabled() {
		return nil, nil
	}
	w, err := history.NewWriter(a.nc, a.names, history.WriterOptions{Logger: a.log, Registerer: a.registry})
	if err != nil {
		return nil, err
	}
	a.onShutdown("history writer", w.Close)
	return w, nil
}

// healedObjects are the JetStream objects the Healer keeps: all of them, but the history stream
// when no history is kept.
func (a *App) healedObjects(sinks []string) []broker.Object {
	objs := broker.Objects(a.names, sinks)
	if a.cfg.NATS.HistoryEnabled() {
		return objs
	}
	return slices.DeleteFunc(objs, func(o broker.Object) bool { return o.Kind == "stream" && o.Name == a.names.HistoryStream() })
}
