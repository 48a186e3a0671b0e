package natscluster

import (
	"net"
	"testing"
)

// TestStartTriesOtherPortsWhenOneIsTaken: a port found free and taken by another process before
// the node listens on it made the node exit and Start fail the test ("bind: address already in
// use", seen when the app and broker tests ran at once); Start now starts the cluster again on
// other ports.
func TestStartTriesOtherPortsWhenOneIsTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	calls := 0
	pickPorts = func(t testing.TB, n int) []int {
		calls++
		ports := freePorts(t, n)
		if calls == 1 {
			ports[3*(Size-1)+1] = taken // the last node's route port
		}
		return ports
	}
	defer func() { pickPorts = freePorts }()
	c := Start(t)
	if calls != 2 {
		t.Errorf("ports picked %d times, want 2", calls)
	}
	if c.MetaLeader() == "" {
		t.Error("no meta leader")
	}
}
