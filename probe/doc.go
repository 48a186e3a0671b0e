// Package probe runs the health checks a service's config names (an HTTP request or a TCP
// connect) and reports each as a triaged.Probe.
//
// Specs decode from YAML (see README.md for the reference and a full example) and are compiled
// once, when the config loads: Compile reports every problem with the field at fault, so a bad
// probe fails the load, never an incident. Run never fails: a refused target, a timeout or an
// unexpected status is a result with OK false and the reason in Error.
//
// Targets come from the config. A target may be a template over alert labels only together with
// an allow pattern that the filled value must match whole; otherwise the probe is refused and
// nothing is contacted (the safety line in DESIGN.md). A filled host must also be plain ASCII
// with no user info, and allow_networks, when set, bounds the resolved address of every
// connection at dial time.
package probe
