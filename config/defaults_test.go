package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/config"
)

// A defaults block that could never name a service or environment is refused at load, each
// problem at its key.
func TestDefaultsAreChecked(t *testing.T) {
	yml := `defaults:
  environment_labels: []
  service_labels: [service, "", service]
  exporters: ["[a-"]
`
	_, err := config.Load([]byte(yml), "defaults.yml")
	if err == nil {
		t.Fatal("loaded without error")
	}
	for _, w := range []string{
		"defaults.yml:2:23: defaults.environment_labels: must name at least one label",
		"defaults.yml:3:29: defaults.service_labels[1]: empty label name",
		"defaults.yml:3:33: defaults.service_labels[2]: label \"service\" is listed twice",
		"defaults.yml:4:15: defaults.exporters[0]: \"[a-\" is not a valid pattern",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

// The configured defaults are the labelling triage applies; without a config it is the root
// package's, assuming no environment.
func TestDefaultsLabelling(t *testing.T) {
	if got := config.Default().Labelling(); !reflect.DeepEqual(got, triaged.DefaultLabelling()) {
		t.Errorf("default labelling %+v, want %+v", got, triaged.DefaultLabelling())
	}
	c, err := config.Load([]byte("defaults:\n  environment: production\n  service_labels: [app, job]\n"), "d.yml")
	if err != nil {
		t.Fatal(err)
	}
	l := c.Labelling()
	if l.Environment != "production" || !reflect.DeepEqual(l.ServiceLabels, []string{"app", "job"}) || len(l.EnvironmentLabels) != 2 {
		t.Errorf("labelling %+v", l)
	}
}
