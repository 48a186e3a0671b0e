package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/internal/httpin"
)

// graphCacheControl lets browsers and caches keep a graph: it is drawn once, when its incident
// opens, and kept under a key of its own. A cache shared between users still stores none
// fetched with credentials (RFC 9111 §3.5), as it would need "public" to.
const graphCacheControl = "max-age=31536000, immutable"

// graph answers GET /api/v1/incidents/{id}/graphs/{name}.png: the PNG the triage worker stored
// in the graphs bucket. A missing graph is looked into, so the 404 says whether the incident or
// only its graph is unknown.
func (h *handler) graph(w http.ResponseWriter, r *http.Request) error {
	if h.opts.Graphs == nil {
		return httpin.Errorf(http.StatusNotImplemented, "graphs are not available: this triaged has no graphs bucket")
	}
	id := r.PathValue("id")
	if err := checkID(id); err != nil {
		return err
	}
	if err := triaged.CheckGraphIncidentID(id); err != nil {
		return httpin.Errorf(http.StatusBadRequest, "%v", err)
	}
	file := r.PathValue("file")
	name, ok := strings.CutSuffix(file, ".png")
	if !ok {
		return httpin.Errorf(http.StatusBadRequest, "graph %q: want NAME.png", trunc(file))
	}
	key, err := triaged.GraphKey(id, name)
	if err != nil {
		return httpin.Errorf(http.StatusBadRequest, "%v", err)
	}
	e, err := h.opts.Graphs.Get(r.Context(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		if _, _, err := h.load(r); err != nil {
			return err // the incident is unknown, or NATS did not answer
		}
		return httpin.Errorf(http.StatusNotFound, "incident %q has no graph %q: it was not drawn or not stored (the report says why), or it has expired (nats.graphs_max_age)", id, name)
	}
	if err != nil {
		return unavailable("read the graphs bucket", err)
	}
	png := e.Value()
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(png)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", graphCacheControl)
	_, _ = w.Write(png)
	return nil
}
