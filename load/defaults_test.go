package load_test

import (
	"testing"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/load"
)

// The config's defaults block reaches the catalog the daemon resolves services with: its
// precedence names the service, and its default environment is assumed, also for an alert that a
// catalog entry without an environment takes.
func TestDefaultsReachTheCatalog(t *testing.T) {
	parts, err := load.Bytes([]byte(`defaults:
  environment: staging
  service_labels: [deployment, job]
services:
  - name: checkout-api
`), "triaged.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		labels    template.KV
		service   string
		catalogue triaged.Catalogued
	}{
		{template.KV{"service": "kube-state-metrics", "deployment": "checkout-api"}, "checkout-api", triaged.InCatalog},
		{template.KV{"service": "payments", "job": "payments"}, "payments", triaged.NotInCatalog},
	} {
		s := parts.Catalog.Resolve(&triaged.Alert{Alert: template.Alert{Labels: tc.labels}})
		if s.Name != tc.service || s.Catalogue != tc.catalogue || s.Environment != "staging" || !s.EnvironmentAssumed {
			t.Errorf("%v: %q (%v) in %q (assumed %v), want %q (%v) in staging, assumed", tc.labels, s.Name, s.Catalogue, s.Environment, s.EnvironmentAssumed, tc.service, tc.catalogue)
		}
	}
}
