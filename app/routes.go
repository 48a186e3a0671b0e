package app

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/deploy"
	"github.com/triaged/triaged/ingest"
)

// routes registers every endpoint in one place: the API, the operational endpoints, and the
// web UI for every other path.
func (a *App) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/alerts", sameOrigin(a.auth.require("/api/v1/alerts", ingest.NewAlertsHandler(broker.NewAlertPublisher(a.js, a.names), ingest.Options{
		MaxBodyBytes:     a.cfg.Ingest.MaxBodyBytes,
		PublishTimeout:   a.cfg.Ingest.PublishTimeout.Std(),
		Limits:           a.cfg.Limits(),
		MaxInflightBytes: a.cfg.Ingest.MaxInflightBytes,
		Heartbeats:       a.worker.TakeHeartbeats,
		Logger:           a.log.With("component", "ingest"),
		Registerer:       a.registry,
	}))))
	mux.Handle("/api/v1/deploys", sameOrigin(a.auth.require("/api/v1/deploys", deploy.NewHandler(deploy.NewRecorder(a.js, a.names, deploy.RecorderOptions{MaxClockSkew: a.cfg.Enrichment.DeploysMaxClockSkew.Std()}), deploy.HandlerOptions{
		MaxBodyBytes:   deploy.MaxEventSize,
		PublishTimeout: a.cfg.Ingest.PublishTimeout.Std(),
		Logger:         a.log.With("component", "deploy"),
		Registerer:     a.registry,
	}))))
	incidents := api.NewIncidentsHandler(api.Options{
		Incidents:   a.topology.Incidents,
		Reports:     a.topology.Reports,
		Renderer:    a.renderer,
		Postmortems: a.postmortems(),
		Logger:      a.log.With("component", "api"),
		Graphs:      a.topology.Graphs,
	})
	mux.Handle("/api/v1/incidents", incidents)
	mux.Handle("/api/v1/incidents/", incidents)
	rulesAPI := api.NewRulesHandler(api.RulesOptions{
		Rules: a.rules, Resolve: a.resolve, Location: a.cfg.Location(), Logger: a.log.With("component", "api"),
		ShadowSummary: func() any {
			if a.shadow == nil {
				return nil
			}
			return a.shadow.Status(10) // the latest ten; /api/v1/rules/shadow has them all
		},
	})
	mux.Handle("/api/v1/rules", rulesAPI)
	// Explain runs rule text the request brings: a write endpoint, as far as trust goes.
	mux.Handle("/api/v1/rules/explain", sameOrigin(a.auth.require("/api/v1/rules/explain", rulesAPI)))
	mux.Handle("/api/v1/rules/shadow", api.NewShadowHandler(a.shadowRules(), a.log.With("component", "api")))
	a.deadLetterRoutes(mux)
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(a.registry, promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{
		Registry:          a.registry,
		EnableOpenMetrics: true,
	})))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "triaged is Healthy.")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Ready(r.Context()); err != nil {
			http.Error(w, "triaged is not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "triaged is Ready.")
	})
	mux.Handle("POST /-/reload", sameOrigin(a.auth.require("/-/reload", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := a.Reload(); err != nil {
			http.Error(w, "reload failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "rules reloaded")
	}))))
	webUI, err := a.webUI()
	if err != nil {
		return nil, err
	}
	mux.Handle("/", webUI)
	return mux, nil
}

// postmortems is the renderer as the incidents API's postmortem renderer, or nil while the
// renderer cannot write postmortems: the endpoint then answers 501.
func (a *App) postmortems() api.Postmortems {
	if p, ok := any(a.renderer).(api.Postmortems); ok && a.renderer != nil {
		return p
	}
	return nil
}
