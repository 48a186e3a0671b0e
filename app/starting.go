package app

import (
	"fmt"
	"net/http"
	"strings"
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

// underPrefix serves h under prefix (--web.route-prefix) with the prefix taken off, as Prometheus
// does: the root and the bare prefix redirect to the prefix's index; any other path is not found.
func underPrefix(prefix string, h http.Handler) http.Handler {
	if prefix == "" {
		return h
	}
	strip := http.StripPrefix(prefix, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, prefix+"/"):
			strip.ServeHTTP(&prefixedRedirects{ResponseWriter: w, prefix: prefix}, r)
		case p == prefix || p == "/":
			http.Redirect(w, r, prefix+"/", http.StatusFound)
		default:
			http.Error(w, fmt.Sprintf("404 page not found: triaged serves under %s/ (--web.route-prefix)", prefix), http.StatusNotFound)
		}
	})
}

// prefixedRedirects puts the route prefix back on a redirect the routes make (a missing trailing
// slash, a path cleaned): they see the path without it.
type prefixedRedirects struct {
	http.ResponseWriter
	prefix string
}

func (w *prefixedRedirects) WriteHeader(code int) {
	if loc := w.Header().Get("Location"); strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
		w.Header().Set("Location", w.prefix+loc)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController flush the live updates' stream through it.
func (w *prefixedRedirects) Unwrap() http.ResponseWriter { return w.ResponseWriter }
