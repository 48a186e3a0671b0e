package api

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	"github.com/triaged/triaged/internal/httpin"
	"github.com/triaged/triaged/rules"
)

// ShadowRules is the shadow rule set of a running daemon; *rules.Shadow is one.
type ShadowRules interface {
	Status(limit int) rules.ShadowStatus
}

// ShadowResponse is the answer of GET /api/v1/rules/shadow: what the shadow set has seen on
// this replica since it was loaded.
type ShadowResponse struct {
	Status string `json:"status"` // "success"
	rules.ShadowStatus
}

var shadowParams = []string{"limit"}

// NewShadowHandler returns the handler of GET /api/v1/rules/shadow: the shadow set's version
// and files, its comparisons and disagreements counted by transition, and the latest
// disagreements, newest first (?limit=N: at most N; default all that are kept). It answers
// 404 when no shadow set runs (s is nil), 400 for a bad parameter, 405 for any method but GET
// and HEAD, errors as the incidents API does.
func NewShadowHandler(s ShadowRules, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{opts: Options{Logger: logger, Timeout: DefaultTimeout}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := shadow(w, r, s); err != nil {
			h.fail(w, r, err)
		}
	})
}

func shadow(w http.ResponseWriter, r *http.Request, s ShadowRules) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return httpin.Errorf(http.StatusMethodNotAllowed, "method %s not allowed: the shadow rules are read with GET", r.Method)
	}
	q := r.URL.Query()
	for name, vals := range q {
		if !slices.Contains(shadowParams, name) {
			return badParam(name, "unknown parameter: want limit")
		}
		if len(vals) > 1 {
			return badParam(name, "given %d times: give it once", len(vals))
		}
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badParam("limit", "%q is not a positive integer", v)
		}
		limit = n
	}
	if s == nil {
		return httpin.Errorf(http.StatusNotFound, "no shadow rules run: rules.shadow_files is empty")
	}
	return writeJSON(w, ShadowResponse{Status: "success", ShadowStatus: s.Status(limit)})
}
