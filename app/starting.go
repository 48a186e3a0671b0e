package app

import (
	"fmt"
	"net/http"
	"sync/atomic"
)

// frontHandler serves what the app can serve so far: while it starts (NATS not reached yet),
// only health and readiness, then every route.
type frontHandler struct{ h atomic.Pointer[http.Handler] }

func (f *frontHandler) set(h http.Handler) { f.h.Store(&h) }

func (f *frontHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*f.h.Load()).ServeHTTP(w, r)
}

// startingHandler answers while New waits for NATS: the process is healthy, not ready, and a
// webhook gets 503, which Alertmanager retries.
func (a *App) startingHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "triaged is Healthy.")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "triaged is not ready: "+a.startingState(), http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "triaged is starting: "+a.startingState(), http.StatusServiceUnavailable)
	})
	return mux
}

func (a *App) startingState() string {
	if s, ok := a.starting.Load().(string); ok && s != "" {
		return s
	}
	return "starting"
}
