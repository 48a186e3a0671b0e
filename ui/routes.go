package ui

// routes registers the pages. Each page's handler lives in its own file.
func (u *UI) routes() {
	u.mux.HandleFunc("GET /{$}", u.incidents)
	u.mux.HandleFunc("GET /incidents/{id}", u.incident)
	if u.opts.Events != nil {
		u.mux.Handle("GET /ui/events", u.opts.Events)
	}
}
