package ui

import "net/http"

// routes registers the pages. Each page's handler lives in its own file.
func (u *UI) routes() {
	u.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		u.render(w, r, "placeholder", "triaged", nil)
	})
}
