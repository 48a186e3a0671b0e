package app

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestPermanentTopologyErrors: what waiting cannot change stops the start; what a cluster
// recovering from a node's loss says keeps it waiting. A replica started while a node was
// restarting once exited on "no suitable peers for placement, peer offline" (issue 14's cluster
// storm found it).
func TestPermanentTopologyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"peer offline", &jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement, peer offline"}, false},
		{"peer offline, wrapped", fmt.Errorf("create or update stream TRIAGED_ALERTS: %w", &jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement, peer offline"}), false},
		{"tags not matched", &jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement, tags not matched ['az:x']"}, true},
		{"invalid config", &jetstream.APIError{Code: 400, ErrorCode: 10052, Description: "replicas > 1 not supported in non-clustered mode"}, true},
		{"temporarily unavailable", &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}, false},
		{"timeout", context.DeadlineExceeded, false},
		{"other", errors.New("nats: no responders available for request"), false},
	} {
		if got := permanent(tc.err); got != tc.want {
			t.Errorf("%s: permanent(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
