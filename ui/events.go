package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged"
)

// Defaults of the live updates.
const (
	DefaultMaxLiveClients = 64
	// DefaultLiveBuffer is how many events one browser may fall behind before it is cut off; it
	// reconnects by itself and reloads the rows it missed.
	DefaultLiveBuffer = 64
	DefaultHeartbeat  = 15 * time.Second
	// liveWriteTimeout bounds each write to a browser, in place of the server's WriteTimeout,
	// which would otherwise end every stream after a minute.
	liveWriteTimeout = 10 * time.Second
)

// HubOptions configure the live updates.
type HubOptions struct {
	MaxClients int           // browsers connected at once; default DefaultMaxLiveClients
	Buffer     int           // events queued per browser; default DefaultLiveBuffer
	Heartbeat  time.Duration // comment sent on a quiet stream; default DefaultHeartbeat
	Logger     *slog.Logger
}

// Hub serves the live updates, GET /ui/events: one ordered consumer of the reports stream,
// started at "now", whose reports it gives to the index and then to every connected browser as
// Server-Sent Events. A browser that falls Buffer events behind is cut off rather than let the
// hub hold an unbounded queue for it.
type Hub struct {
	o     HubOptions
	index *Index

	mu      sync.Mutex
	clients map[*liveClient]struct{}
	closed  bool

	refused, cut atomic.Int64 // browsers refused, and cut off for falling behind
}

type liveClient struct {
	events chan []byte
	cut    chan struct{} // closed when the hub drops the client
}

// NewHub returns a hub that updates index (nil: none) with every report it reads.
func NewHub(index *Index, o HubOptions) *Hub {
	if o.MaxClients <= 0 {
		o.MaxClients = DefaultMaxLiveClients
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultLiveBuffer
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{o: o, index: index, clients: map[*liveClient]struct{}{}}
	if index != nil {
		index.OnLink(h.link)
	}
	return h
}

// Run reads the reports stream from now on until ctx is done. Errors are logged and the read
// started again: live updates failing must not stop the daemon. It returns nil.
func (h *Hub) Run(ctx context.Context, reports jetstream.Stream) error {
	for ctx.Err() == nil {
		if err := h.read(ctx, reports); err != nil && ctx.Err() == nil {
			h.o.Logger.Warn("web UI: reading the reports stream for live updates failed; trying again", "err", err, "retry", watchRetry)
		}
		select {
		case <-ctx.Done():
		case <-time.After(watchRetry):
		}
	}
	return nil
}

func (h *Hub) read(ctx context.Context, reports jetstream.Stream) error {
	c, err := reports.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("create ordered consumer: %w", err)
	}
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	defer context.AfterFunc(ctx, it.Stop)()
	defer it.Stop()
	for {
		m, err := it.Next()
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return err
		}
		if err != nil {
			continue // the ordered consumer recreates itself after missed heartbeats
		}
		rep, err := triaged.DecodeReport(m.Data())
		if err != nil || rep.IncidentID == "" {
			continue
		}
		h.Publish(rep)
	}
}

// liveEvent is what a browser gets of a report: enough to name it and to title the page; the
// rows themselves it reloads from the page, rendered by the server as at first.
type liveEvent struct {
	Incident string         `json:"incident"`
	Report   string         `json:"report,omitempty"`
	Event    string         `json:"event,omitempty"`
	Severity string         `json:"severity,omitempty"`
	Headline string         `json:"headline,omitempty"`
	Open     map[string]int `json:"open,omitempty"`
	Title    string         `json:"title,omitempty"`
}

// Publish indexes a report and sends it to every connected browser.
func (h *Hub) Publish(rep *triaged.Report) {
	ev := liveEvent{Incident: rep.IncidentID, Report: rep.ID, Event: string(rep.Event), Severity: rep.Severity.String(), Headline: rep.Headline}
	if h.index != nil {
		h.index.Report(rep)
		ev.Open = h.index.OpenCounts()
		ev.Title = countsTitle(ev.Open)
	}
	h.send("report", ev)
}

// link tells the browsers that a chat sink posted the message of an incident, so that its link
// shows without waiting for the next report.
func (h *Hub) link(incident string) { h.send("link", liveEvent{Incident: incident}) }

func (h *Hub) send(name string, ev liveEvent) {
	data, err := json.Marshal(ev)
	if err != nil {
		return
	}
	msg := fmt.Appendf(nil, "event: %s\ndata: %s\n\n", name, data)
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.events <- msg:
		default: // too far behind: cut off; it reconnects and reloads what it missed
			h.dropLocked(c)
			h.cut.Add(1)
		}
	}
}

func (h *Hub) dropLocked(c *liveClient) {
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.cut)
	}
}

// Close ends every live stream and refuses new ones: the HTTP server's graceful shutdown would
// otherwise wait for streams that never end. The app calls it when the shutdown begins.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	for c := range h.clients {
		h.dropLocked(c)
	}
}

// Clients is the number of browsers connected.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

func (h *Hub) join() (*liveClient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errors.New("triaged is shutting down")
	}
	if len(h.clients) >= h.o.MaxClients {
		return nil, fmt.Errorf("too many live connections: %d browsers are connected, the limit (ui.max_live_clients) is %d; reload later", len(h.clients), h.o.MaxClients)
	}
	c := &liveClient{events: make(chan []byte, h.o.Buffer), cut: make(chan struct{})}
	h.clients[c] = struct{}{}
	return c, nil
}

// ServeHTTP streams the events to one browser until it goes away, falls behind, or the hub
// closes.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := h.join()
	if err != nil {
		h.refused.Add(1)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer func() {
		h.mu.Lock()
		h.dropLocked(c)
		h.mu.Unlock()
	}()
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // a proxy in front must not hold the events back
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout)) // not every writer can; then the server's applies
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// retry: how long the browser waits before it reconnects; "ready" tells the page it is live.
	if !send([]byte("retry: 3000\nevent: ready\ndata: {}\n\n")) {
		return
	}
	beat := time.NewTicker(h.o.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.cut:
			return
		case <-beat.C:
			if !send([]byte(": heartbeat\n\n")) {
				return
			}
		case msg := <-c.events:
			if !send(msg) {
				return
			}
		}
	}
}
