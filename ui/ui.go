package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/triaged/triaged/api"
)

//go:embed templates static
var assets embed.FS

// ContentSecurityPolicy is sent with every UI response: scripts, styles, images and fetches
// from the daemon itself only, no inline script or style, no frames, no forms elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Options configures the UI. What a page needs and is not given, that page says it does not
// have; it never fails the whole UI.
type Options struct {
	// Version is the daemon's version, shown in every page's footer.
	Version string
	Logger  *slog.Logger
	// Now is the clock of "age" columns; default time.Now.
	Now func() time.Time

	// The rule author's and operator's pages (rules, playground, deploys, dead letters,
	// status): see each source's type.
	Rules        RulesSource
	Shadow       ShadowSource
	RuleTexts    func() []RuleText
	RecentAlerts RecentAlertsSource
	Deploys      DeploysSource
	DeadLetters  DeadLettersSource
	Status       StatusSource
	// Base is the path browsers reach the UI under behind a reverse proxy ("/triaged"; "" for
	// the root): every link, script and request of the pages carries it.
	Base string
	// WriteAuth is how the write endpoints the pages call (explain, replay) authenticate:
	// WriteAuthBearer makes the pages ask for a token once per tab and send it as
	// "Authorization: Bearer"; "" leaves it to the browser (basic auth, client certificates,
	// or none).
	WriteAuth string
	// ReadTimeout bounds each NATS read a page makes; what does not answer in time is shown
	// as unknown, with why. Default DefaultReadTimeout.
	ReadTimeout time.Duration
	// The incidents pages. Index lists the incidents (its Watch keeps it), Events serves the live
	// updates (its Run feeds it); Incidents and Reports are read for one incident, and
	// Postmortems renders its postmortem skeleton.
	Index       *Index
	Events      *Hub
	Incidents   api.Bucket
	Reports     api.ReportStream
	Postmortems api.Postmortems
}

// UI serves the pages.
type UI struct {
	opts    Options
	pages   map[string]*template.Template
	mux     *http.ServeMux
	reports *reportCache
}

// New parses every page's template and routes the pages; a template that does not parse is a
// programming error reported here, not at the first request.
func New(o Options) (*UI, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	u := &UI{opts: o, pages: map[string]*template.Template{}, mux: http.NewServeMux(), reports: newReportCache(ReportCacheBytes)}
	pages, err := fs.Glob(assets, "templates/page_*.html")
	if err != nil {
		return nil, err
	}
	for _, p := range pages {
		t, err := template.New("layout.html").Funcs(funcs(o.Base)).ParseFS(assets, "templates/layout.html", p)
		if err != nil {
			return nil, fmt.Errorf("ui template %s: %w", p, err)
		}
		u.pages[p[len("templates/page_"):len(p)-len(".html")]] = t
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	u.routes()
	return u, nil
}

// ServeHTTP serves every path the daemon's API does not (the UI is its catch-all), with the security headers every page carries.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	u.mux.ServeHTTP(w, r)
}

// page is what every page template gets: Title for <title>, Nav for the highlighted tab, Data
// for the page itself.
type page struct {
	Title   string
	Nav     string
	Version string
	Base    string // for the scripts, which take it from the root element
	Data    any
}

// render executes page name into a buffer first, so a failing template gives a clean 500 rather
// than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	t, ok := u.pages[name]
	if !ok {
		http.Error(w, "no such page: "+name, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, page{Title: title, Nav: name, Version: u.opts.Version, Base: u.opts.Base, Data: data}); err != nil {
		u.opts.Logger.Error("rendering a UI page failed", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "rendering the page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = buf.WriteTo(w)
}

// staticHandler serves the embedded scripts and styles; they change only with the binary.
func staticHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
