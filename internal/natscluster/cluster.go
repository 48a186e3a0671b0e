package natscluster

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/triaged/triaged/internal/testkit"
)

// Size is the number of nodes of a cluster: the smallest that keeps a quorum with one node lost.
const Size = 3

// Name is the cluster's name, in every node's cluster block.
const Name = "triaged-test"

// readyWithin bounds how long a broken start hangs a test; a healthy cluster elects its meta
// leader in a few seconds.
const readyWithin = 30 * time.Second

// Cluster is a running three-node JetStream cluster, every node killed when the test ends.
type Cluster struct {
	t     testing.TB
	nodes [Size]*node
}

type node struct {
	name                   string
	client, route, monitor int
	dir                    string // the store directory, kept across restarts
	conf                   string
	out                    *testkit.SyncBuffer // every run's output, in order

	mu   sync.Mutex
	proc *Process // nil while the node is not running
}

// Start starts a three-node cluster on free loopback ports, each node with JetStream on file
// storage in a temporary directory of its own, and returns once every node is healthy and the
// cluster has a JetStream meta leader and can place a stream of three replicas. It fails the
// test if the cluster does not form.
//
// A port found free may be taken by another process (a test of another package, run at the same
// time) before the node listens on it; the node then exits, and the cluster is started again on
// other ports, up to startAttempts times.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := Binary(t)
	begun := time.Now()
	for attempt := 1; ; attempt++ {
		c := prepare(t)
		for i := range Size {
			c.start(bin, i)
		}
		taken := false
		for i := range Size {
			if taken = c.waitHealthy(i, true); taken {
				break
			}
		}
		if !taken {
			c.waitPlacement()
			t.Logf("natscluster: %d nodes at %s healthy after %s", Size, c.URLs(), time.Since(begun).Round(time.Millisecond))
			return c
		}
		for _, n := range c.nodes {
			n.kill()
		}
		if attempt == startAttempts {
			t.Fatalf("natscluster: a port of the cluster was taken by another process before its node listened on it, %d times in a row", attempt)
		}
		t.Logf("natscluster: a port was taken by another process before its node listened on it; starting again on other ports")
	}
}

// startAttempts bounds how often Start tries other ports.
const startAttempts = 3

// prepare picks free ports and writes every node's configuration, and has the nodes killed when
// the test ends.
func prepare(t testing.TB) *Cluster {
	t.Helper()
	ports := pickPorts(t, 3*Size)
	c := &Cluster{t: t}
	var routes []string
	for i := range Size {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*i+1]))
	}
	for i := range Size {
		dir := t.TempDir()
		n := &node{
			name:   fmt.Sprintf("n%d", i),
			client: ports[3*i], route: ports[3*i+1], monitor: ports[3*i+2],
			dir: filepath.Join(dir, "jetstream"), conf: filepath.Join(dir, "nats.conf"),
			out: &testkit.SyncBuffer{},
		}
		if err := os.WriteFile(n.conf, []byte(n.config(routes)), 0o644); err != nil {
			t.Fatalf("natscluster: %v", err)
		}
		c.nodes[i] = n
	}
	// Registered before any node starts, so a failed start leaves nothing behind.
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.kill()
		}
		if t.Failed() {
			for _, n := range c.nodes {
				t.Logf("nats-server %s log (tail):\n%s", n.name, tail(n.out.String(), 4000))
			}
		}
	})
	return c
}

// config is the node's configuration: client, route and monitoring ports on loopback, and every
// node's route (a node skips its own).
func (n *node) config(routes []string) string {
	return fmt.Sprintf(`server_name: %s
listen: "127.0.0.1:%d"
http: "127.0.0.1:%d"
jetstream {
  store_dir: %q
}
cluster {
  name: %s
  listen: "127.0.0.1:%d"
  routes: [%s]
}
`, n.name, n.client, n.monitor, n.dir, Name, n.route, strings.Join(routes, ", "))
}

func (c *Cluster) start(bin string, i int) {
	c.t.Helper()
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil {
		c.t.Fatalf("natscluster: node %s is already running", n.name)
	}
	cmd := exec.Command(bin, "-c", n.conf)
	cmd.Stdout, cmd.Stderr = n.out, n.out
	p, err := StartProcess(cmd)
	if err != nil {
		c.t.Fatalf("natscluster: node %s: %v", n.name, err)
	}
	n.proc = p
}

// kill kills the node's process group, if it runs, and waits until it has exited. A stopped
// node is killed as well: SIGKILL needs no SIGCONT.
func (n *node) kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return
	}
	n.proc.Kill()
	n.proc = nil
}

// URLs are the nodes' client URLs, comma-separated, as --nats.url takes them.
func (c *Cluster) URLs() string {
	var urls []string
	for i := range Size {
		urls = append(urls, c.URL(i))
	}
	return strings.Join(urls, ",")
}

// URL is node i's client URL.
func (c *Cluster) URL(i int) string { return fmt.Sprintf("nats://127.0.0.1:%d", c.nodes[i].client) }

// Kill kills node i with SIGKILL, as the OOM killer or a lost machine does: nothing is flushed or
// said goodbye to. Its store stays for Restart.
func (c *Cluster) Kill(i int) {
	c.nodes[i].kill()
	c.t.Logf("natscluster: killed %s", c.nodes[i].name)
}

// Restart starts killed node i again on its ports and store, and waits until it is healthy:
// caught up with the meta leader, and the cluster can place an R3 stream again.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	begun := time.Now()
	c.StartAgain(i)
	c.WaitHealthy(i)
	c.waitPlacement()
	c.t.Logf("natscluster: restarted %s, healthy after %s", c.nodes[i].name, time.Since(begun).Round(time.Millisecond))
}

// StartAgain starts killed node i again on its ports and store without waiting for it: catching
// up with its peers takes seconds, which a test need not spend idle (WaitHealthy waits).
func (c *Cluster) StartAgain(i int) {
	c.t.Helper()
	c.start(Binary(c.t), i)
	c.t.Logf("natscluster: started %s again", c.nodes[i].name)
}

// Stop freezes node i (SIGSTOP): its connections stay open and nothing on them is answered, so
// its peers and clients see it partitioned away until Continue.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		c.t.Fatalf("natscluster: node %s is not running", n.name)
	}
	if err := n.proc.Stop(); err != nil {
		c.t.Fatalf("natscluster: stop %s: %v", n.name, err)
	}
	c.t.Logf("natscluster: stopped %s", n.name)
}

// Continue resumes node i after Stop and waits until it is healthy again.
func (c *Cluster) Continue(i int) {
	c.t.Helper()
	n := c.nodes[i]
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		c.t.Fatalf("natscluster: node %s is not running", n.name)
	}
	if err := p.Continue(); err != nil {
		c.t.Fatalf("natscluster: continue %s: %v", n.name, err)
	}
	begun := time.Now()
	c.WaitHealthy(i)
	c.waitPlacement()
	c.t.Logf("natscluster: continued %s, healthy after %s", n.name, time.Since(begun).Round(time.Millisecond))
}

// WaitHealthy waits until node i's /healthz says it is healthy (JetStream current with the meta
// leader) and it knows a meta leader.
func (c *Cluster) WaitHealthy(i int) {
	c.t.Helper()
	c.waitHealthy(i, false)
}

// waitHealthy is WaitHealthy; when starting, a node that exited because one of its ports is
// taken makes it return true at once instead of failing the test.
func (c *Cluster) waitHealthy(i int, starting bool) (portTaken bool) {
	c.t.Helper()
	n := c.nodes[i]
	probe := &http.Client{Timeout: 2 * time.Second} // a hung probe would stop the polling
	base := fmt.Sprintf("http://127.0.0.1:%d", n.monitor)
	last := ""
	defer func() {
		if c.t.Failed() {
			c.t.Logf("natscluster: %s last seen: %s", n.name, last)
		}
	}()
	testkit.Eventually(c.t, readyWithin, "nats-server "+n.name+" healthy with a meta leader", func() bool {
		n.mu.Lock()
		p := n.proc
		n.mu.Unlock()
		if p == nil {
			c.t.Fatalf("natscluster: %s is not running", n.name)
		}
		if starting && c.portTaken() {
			portTaken = true
			return true
		}
		select {
		case <-p.Exited():
			c.t.Fatalf("natscluster: %s exited:\n%s", n.name, tail(n.out.String(), 4000))
		default:
		}
		state := n.health(probe, base)
		if state == "" && n.name != c.MetaLeader() {
			state = c.leaderHealth(probe)
		}
		if state != last {
			last = state
		}
		return state == ""
	})
	return portTaken
}

// portTaken says whether a node exited because one of its ports was taken.
func (c *Cluster) portTaken() bool {
	for _, n := range c.nodes {
		n.mu.Lock()
		p := n.proc
		n.mu.Unlock()
		if p == nil {
			continue
		}
		select {
		case <-p.Exited():
			if strings.Contains(n.out.String(), "address already in use") {
				return true
			}
		default:
		}
	}
	return false
}

// health is "" when the node is healthy and knows a meta leader, else what is wrong.
func (n *node) health(probe *http.Client, base string) string {
	resp, err := probe.Get(base + "/healthz")
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("healthz %d", resp.StatusCode)
	}
	resp, err = probe.Get(base + "/jsz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var jsz jsz
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		return "jsz: " + err.Error()
	}
	m := jsz.Meta
	if m == nil || m.Leader == "" {
		return "no meta leader"
	}
	if m.ClusterSize != Size {
		return fmt.Sprintf("meta group of %d", m.ClusterSize)
	}
	if m.Leader != n.name {
		return ""
	}
	// Only the leader knows whether its peers are current: a healthy follower of a leader that
	// has not heard from the third node yet would let an R3 stream be created too soon.
	current := 0
	for _, p := range m.Replicas {
		if p.Current && !p.Offline {
			current++
		}
	}
	if current != Size-1 {
		return fmt.Sprintf("%d of %d peers current", current, Size-1)
	}
	return ""
}

// jsz is what the harness reads of /jsz.
type jsz struct {
	Meta *struct {
		Leader      string `json:"leader"`
		ClusterSize int    `json:"cluster_size"`
		Replicas    []struct {
			Name    string `json:"name"`
			Current bool   `json:"current"`
			Offline bool   `json:"offline"`
		} `json:"replicas"`
	} `json:"meta_cluster"`
}

// leaderHealth is the meta leader's health, which says whether every peer is current.
func (c *Cluster) leaderHealth(probe *http.Client) string {
	leader := c.MetaLeader()
	for _, n := range c.nodes {
		if n.name == leader {
			return n.health(probe, fmt.Sprintf("http://127.0.0.1:%d", n.monitor))
		}
	}
	return "no meta leader"
}

// MetaLeader is the name of the node the running nodes take for the JetStream meta leader, ""
// when none knows one.
func (c *Cluster) MetaLeader() string {
	probe := &http.Client{Timeout: 2 * time.Second}
	for _, n := range c.nodes {
		resp, err := probe.Get(fmt.Sprintf("http://127.0.0.1:%d/jsz", n.monitor))
		if err != nil {
			continue
		}
		var jsz jsz
		err = json.NewDecoder(resp.Body).Decode(&jsz)
		resp.Body.Close()
		if err == nil && jsz.Meta != nil && jsz.Meta.Leader != "" {
			return jsz.Meta.Leader
		}
	}
	return ""
}

// pickPorts is freePorts, but for a test that hands out a taken port.
var pickPorts = freePorts

// freePorts reserves n distinct free loopback ports, all held open until all are found so none
// is handed out twice.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natscluster: free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
