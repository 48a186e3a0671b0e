package load_test

import (
	"strings"
	"testing"

	"github.com/triaged/triaged/load"
)

// TestTargetProblemsArePlaced: a label-filled argument given to a shell or interpreter, and an
// allow_networks entry that is no network, fail the load at their file:line:column.
func TestTargetProblemsArePlaced(t *testing.T) {
	_, err := load.File("testdata/targets.bad.yml")
	if err == nil {
		t.Fatal("loaded a log source that hands a label to a shell")
	}
	for _, want := range []string{
		`testdata/targets.bad.yml:8:41: services[0].probes[0].http.allow_networks[1]: "10.0.0.0/33" is not a network`,
		`testdata/targets.bad.yml:12:26: services[0].logs[0].command.argv[2]: "kubectl logs {{ .Labels.pod }}" is filled from alert labels but is an argument of "sh" (argv[0]), a shell or interpreter that runs its arguments as code`,
		`testdata/targets.bad.yml:16:88: services[0].logs[1].command.argv[7]: "{{ .Labels.pod }}" is filled from alert labels but is an argument of "/usr/bin/python3" (argv[4])`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%s", want, err)
		}
	}
}
