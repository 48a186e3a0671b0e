package ui

import "net/http"

// routes registers the pages. Each page's handler lives in its own file.
func (u *UI) routes() {
	u.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		u.render(w, r, "placeholder", "triaged", nil)
	})
	u.mux.HandleFunc("GET /rules", u.rulesPage)
	u.mux.HandleFunc("GET /playground", u.playgroundPage)
	u.mux.HandleFunc("GET /deploys", u.deploysPage)
	u.mux.HandleFunc("GET /dead-letters", u.deadLettersPage)
	u.mux.HandleFunc("GET /status", u.statusPage)
}
