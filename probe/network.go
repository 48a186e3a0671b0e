package probe

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/triaged/triaged/internal/target"
)

// networks is a probe's allow_networks: the addresses it may connect to. It is checked in the
// dialer's Control function, on the address actually dialled after name resolution, so neither
// a name that resolves elsewhere than it seems nor one whose DNS answer changes between a check
// and the dial (DNS rebinding) can take a probe outside it. Redirects are dialled through the
// same dialer. Empty means any address.
type networks struct {
	field    string // "http.allow_networks", for the refusal
	prefixes []netip.Prefix
}

// compileNetworks parses allow_networks entries: CIDR prefixes ("10.0.0.0/8", "fd00::/8") or
// single addresses ("10.0.0.5", taken as /32 or /128).
func compileNetworks(field string, list []string, bad func(field, format string, args ...any)) *networks {
	if len(list) == 0 {
		return nil
	}
	n := &networks{field: field}
	for i, s := range list {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				bad(fmt.Sprintf("%s[%d]", field, i), "%q is not a network (10.0.0.0/8, fd00::/8) or an address", s)
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		n.prefixes = append(n.prefixes, p.Masked())
	}
	return n
}

// allows says whether addr, as the dialer passes it ("10.0.0.5:8080", "[fd00::1]:80"), is in one
// of the networks; an IPv4-mapped IPv6 address counts as the IPv4 address it maps.
func (n *networks) allows(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &target.RefusedError{Reason: fmt.Sprintf("dialled address %q is not an IP address and port", address)}
	}
	ip := ap.Addr().Unmap().WithZone("")
	for _, p := range n.prefixes {
		if p.Contains(ip) {
			return nil
		}
	}
	return &target.RefusedError{Reason: fmt.Sprintf("address %s is not in %s %s", ip, n.field, n)}
}

func (n *networks) String() string {
	s := make([]string, len(n.prefixes))
	for i, p := range n.prefixes {
		s[i] = p.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// dialer is the dialer of every probe connection; with networks, it refuses an address outside
// them before the connection is attempted.
func dialer(n *networks) *net.Dialer {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: -1}
	if n != nil {
		d.Control = func(_, address string, _ syscall.RawConn) error { return n.allows(address) }
	}
	return d
}

// newTransport builds the transport of HTTP probes. Keep-alives are off: each probe opens a fresh
// connection, as a new client would, so a probe cannot pass on a connection opened before the
// service broke, and a transport of its own (one per probe with allow_networks) holds no idle
// connection. Proxy is nil: a probe looks at the service, not at whatever proxy the daemon's
// environment names.
func newTransport(insecure bool, n *networks) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer(n).DialContext,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    30 * time.Second, // backstops; each probe's context has the real timeout
		ResponseHeaderTimeout:  60 * time.Second,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 64 << 10,
	}
}
