package target

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// A filled value that matched its allow pattern may still name another host than it seems to:
// the HTTP client maps Unicode hosts through IDNA ("１２７.０.０.１" is dialled as 127.0.0.1), user
// info puts a decoy in front of the real host ("http://10.0.0.1:8080@evil/"), and a resolver may
// read "2130706433" or "0x7f.1" as an IPv4 address. An allow pattern is written against the text,
// so the text must mean what it says: these checks run after the pattern matched and refuse every
// such host.

// CheckURL refuses a filled URL whose authority (the part between "//" and the path) is not a
// plain host and port: user info, percent-escapes, or a host that CheckHost refuses. The error
// is a *RefusedError.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &RefusedError{Reason: fmt.Sprintf("filled URL %q does not parse: %v", raw, err)}
	}
	if u.User != nil {
		return &RefusedError{Reason: fmt.Sprintf("filled URL %q has user info before its host", u.Redacted())}
	}
	_, rest, _ := strings.Cut(raw, "//")
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if strings.ContainsAny(authority, "%@\\") {
		return &RefusedError{Reason: fmt.Sprintf("filled URL %q has an escaped or ambiguous host", raw)}
	}
	if err := CheckHost(u.Hostname()); err != nil {
		return &RefusedError{Reason: fmt.Sprintf("filled URL %q: %s", raw, err)}
	}
	return nil
}

// CheckHost refuses a host name or address, as written without brackets or port, that is not
// plain: anything but ASCII letters, digits, '-', '_' and '.' (an IPv6 literal aside, neither
// IPv4-mapped nor with a zone), an empty
// label, or a name whose last label is numeric but that is not a dotted-quad IPv4 address in
// canonical form. The error says why; it is not a *RefusedError, the caller wraps it.
func CheckHost(host string) error {
	if host == "" {
		return fmt.Errorf("no host")
	}
	if strings.Contains(host, ":") {
		// An IPv4-mapped address is an IPv4 address in disguise: written so, it would pass a
		// pattern meant for IPv6 literals.
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
			return fmt.Errorf("host %q is not a plain IPv6 address", host)
		}
		return nil
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("host %q is not plain ASCII (letters, digits, '-', '_', '.')", host)
		}
	}
	name := strings.TrimSuffix(host, ".")
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("host %q has an empty label", host)
		}
	}
	// WHATWG URL parsing, and inet_aton behind some resolvers, take a name whose last label is
	// a number (decimal, octal or 0x-hex) for an IPv4 address in one of many spellings.
	last := strings.ToLower(labels[len(labels)-1])
	if strings.Trim(last, "0123456789") == "" || strings.HasPrefix(last, "0x") {
		if a, err := netip.ParseAddr(name); err != nil || !a.Is4() || a.String() != name {
			return fmt.Errorf("host %q is a number but not a dotted-quad IPv4 address", host)
		}
	}
	return nil
}
