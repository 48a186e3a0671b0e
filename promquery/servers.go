package promquery

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Servers are the clients of every configured query API: the one under `prometheus:` and those
// of services with their own. They are built whole (a reload builds new ones) and never
// changed.
type Servers struct {
	// Settings are the top-level `prometheus:` block: the timeout, offsets and limits apply to
	// every server.
	Settings Settings
	global   *Client
	services map[string]*Client
}

// NewServers builds the clients of the settings' server (when configured) and of the services'
// own servers, by service name. Every problem is reported, and then no client is returned.
func NewServers(s Settings, services map[string]*Server) (*Servers, error) {
	out := &Servers{Settings: s, services: map[string]*Client{}}
	var errs []error
	if s.Enabled() {
		c, err := NewClient(s.Server, s.MaxResponseBytes)
		errs = append(errs, err)
		out.global = c
	}
	for _, name := range slices.Sorted(maps.Keys(services)) {
		srv := services[name]
		if srv == nil {
			continue
		}
		c, err := NewClient(*srv, s.MaxResponseBytes)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", name, err))
		}
		out.services[name] = c
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Configured says whether any server is.
func (s *Servers) Configured() bool { return s != nil && (s.global != nil || len(s.services) > 0) }

// ForService is the server of a service's catalog queries: its own, else the global one; nil
// when neither is configured.
func (s *Servers) ForService(service string) *Client {
	if s == nil {
		return nil
	}
	if c := s.services[service]; c != nil {
		return c
	}
	return s.global
}

// ForGenerator is the server an alert's generator URL points at: the service's own, the global
// one, or another service's; nil when it is none of them.
func (s *Servers) ForGenerator(generatorURL, service string) *Client {
	if s == nil || generatorURL == "" {
		return nil
	}
	for _, c := range []*Client{s.services[service], s.global} {
		if c != nil && c.Generated(generatorURL) {
			return c
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.services)) {
		if c := s.services[name]; c.Generated(generatorURL) {
			return c
		}
	}
	return nil
}
