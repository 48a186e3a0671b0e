package main

import (
	"os/exec"
	"strings"
	"testing"
)

// Reading a webhook needs Alertmanager's template.Data, not its notifier: notify/webhook alone
// pulls memberlist, OpenTelemetry and gRPC into the daemon, some 220 packages and 6 MB.
func TestDaemonStaysLight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/prometheus/alertmanager/notify", "github.com/hashicorp/memberlist", "go.opentelemetry.io/", "google.golang.org/grpc"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") || strings.HasSuffix(banned, "/") && strings.HasPrefix(dep, banned) {
				t.Errorf("the daemon depends on %s again", dep)
			}
		}
	}
}
