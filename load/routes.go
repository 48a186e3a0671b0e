package load

import (
	"strings"

	"github.com/triaged/triaged/config"
	"github.com/triaged/triaged/notify"
	"github.com/triaged/triaged/route"
)

// compileRoutes compiles the routes against the configured sinks, placing each problem and
// lint finding at its key under routes. A sink whose settings were refused still counts as
// configured, so a route naming it gets no second, misleading "unknown sink".
func compileRoutes(cfg *config.Config, plans []*notify.SinkPlan, probs *config.Problems) (*route.Router, []string) {
	sinks := make([]route.Sink, len(cfg.Sinks))
	for i, s := range cfg.Sinks {
		sinks[i] = route.Sink{Name: s.Name}
		if i < len(plans) && plans[i] != nil {
			sinks[i].Channels, sinks[i].Channel = plans[i].Channels(), plans[i].Channel()
		}
	}
	r, errs := route.Compile(cfg.Routes, sinks)
	for _, fe := range errs {
		probs.At(strings.TrimSuffix("routes"+fe.Field, "."), "%s", fe.Msg)
	}
	var warnings []string
	for _, fe := range r.Warnings() {
		warnings = append(warnings, probs.Where(fe.Field)+": "+fe.Msg)
	}
	return r, warnings
}
