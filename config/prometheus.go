package config

// validatePrometheus checks the `prometheus:` block when a server is configured. Its queries must
// end before the enrichment's deadline, or a slow Prometheus would hold the opening; the timeout
// applies to the services' own servers too.
func (c *Config) validatePrometheus(v check) {
	p := &c.Prometheus
	for _, fe := range p.Validate() {
		v.At("prometheus."+fe.Field, "%s", fe.Msg)
	}
	used := p.Enabled()
	for _, s := range c.Services {
		used = used || s.Prometheus != nil
	}
	if used && p.Timeout > 0 && p.Timeout >= c.Enrichment.Timeout {
		v.At("prometheus.timeout", "%s must be below enrichment.timeout %s: the queries end before the opening goes out", p.Timeout, c.Enrichment.Timeout)
	}
}
