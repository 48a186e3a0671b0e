package app

import (
	"encoding/json"
	"net/http"

	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/broker"
)

// deadLetterRoutes serves the dead letters: listed by anyone who may read, replayed (a write)
// behind the write authentication and refused cross-site.
func (a *App) deadLetterRoutes(mux *http.ServeMux) {
	h := api.NewDeadLettersHandler(broker.NewDeadLetterStore(a.js, a.names), 0, a.log.With("component", "api"))
	mux.Handle("/api/v1/dead-letters", h)
	mux.Handle("/api/v1/dead-letters/", sameOrigin(a.auth.require("/api/v1/dead-letters/{id}/replay", h)))
}

// sameOrigin refuses a browser's cross-site request to a write endpoint (every one has it): with
// basic auth (--web.config.file) the browser attaches its credentials to any request, so a page
// elsewhere could otherwise post to them in the user's name. Browsers say where a request comes
// from (Sec-Fetch-Site, Origin); requests without those headers, from Alertmanager, CI or curl,
// pass as before.
func sameOrigin(next http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error",
			"error": "cross-origin request refused: " + r.URL.Path + " takes requests from triaged's own pages or from clients that are not browsers"})
	}))
	return p.Handler(next)
}
