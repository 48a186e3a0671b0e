package ui

// routes registers the pages. Each page's handler lives in its own file.
func (u *UI) routes() {
	u.mux.HandleFunc("GET /{$}", u.incidents)
	u.mux.HandleFunc("GET /incidents/{id}", u.incident)
	if u.opts.Events != nil {
		u.mux.Handle("GET /ui/events", u.opts.Events)
	}
	u.mux.HandleFunc("GET /rules", u.rulesPage)
	u.mux.HandleFunc("GET /playground", u.playgroundPage)
	u.mux.HandleFunc("GET /deploys", u.deploysPage)
	u.mux.HandleFunc("GET /dead-letters", u.deadLettersPage)
	u.mux.HandleFunc("GET /status", u.statusPage)
}
