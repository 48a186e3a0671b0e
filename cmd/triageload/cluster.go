package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// clusterSize is the number of nats-server nodes: the smallest cluster that keeps a quorum with
// one node lost.
const clusterSize = 3

// clusterReadyWithin bounds a cluster's start and a node's restart; a healthy cluster elects its
// meta leader in a few seconds.
const clusterReadyWithin = 30 * time.Second

// natsCluster is a three-node nats-server cluster of processes, as internal/natscluster runs
// for tests (that package reports through testing.TB, so a command cannot use it): JetStream on
// file storage, client, route and monitoring ports on loopback, one temporary directory for all.
type natsCluster struct {
	bin   string
	dir   string
	nodes [clusterSize]*clusterNode
}

type clusterNode struct {
	name                   string
	client, route, monitor int
	conf                   string
	out                    *tail
	cmd                    *exec.Cmd
	exited                 chan struct{}
}

// startCluster starts the three nodes and returns once each is healthy and the cluster can
// place a stream of three replicas.
func startCluster(bin string) (*natsCluster, error) {
	dir, err := os.MkdirTemp("", "triageload-cluster-")
	if err != nil {
		return nil, err
	}
	c := &natsCluster{bin: bin, dir: dir}
	ports, err := freePorts(3 * clusterSize)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var routes []string
	for i := range clusterSize {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3*i+1]))
	}
	for i := range clusterSize {
		n := &clusterNode{
			name:   fmt.Sprintf("n%d", i),
			client: ports[3*i], route: ports[3*i+1], monitor: ports[3*i+2],
			conf: filepath.Join(dir, fmt.Sprintf("n%d.conf", i)),
		}
		conf := fmt.Sprintf("server_name: %s\nlisten: \"127.0.0.1:%d\"\nhttp: \"127.0.0.1:%d\"\n"+
			"jetstream { store_dir: %q }\ncluster {\n  name: triageload\n  listen: \"127.0.0.1:%d\"\n  routes: [%s]\n}\n",
			n.name, n.client, n.monitor, filepath.Join(dir, n.name), n.route, strings.Join(routes, ", "))
		if err := os.WriteFile(n.conf, []byte(conf), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		c.nodes[i] = n
	}
	for i := range clusterSize {
		if err := c.startNode(i); err != nil {
			c.stop()
			return nil, err
		}
	}
	if err := c.waitReady(); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *natsCluster) startNode(i int) error {
	n := c.nodes[i]
	n.out = &tail{}
	n.cmd = exec.Command(c.bin, "-c", n.conf)
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	dieWithParent(n.cmd)
	started, exited := make(chan error), make(chan struct{})
	go func() {
		// A parent-death signal fires when the thread that started the process ends: keep this
		// goroutine on its thread until the node has exited.
		runtime.LockOSThread()
		err := n.cmd.Start()
		started <- err
		if err == nil {
			_ = n.cmd.Wait()
		}
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start nats-server %s: %w", n.name, err)
	}
	n.exited = exited
	return nil
}

// waitReady waits until every running node answers /healthz with 200 and an R3 stream can be
// placed: a meta leader may count a peer current before it has heard its statistics, and refuse
// an R3 stream meanwhile.
func (c *natsCluster) waitReady() error {
	probe := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(clusterReadyWithin)
	for i, n := range c.nodes {
		for {
			select {
			case <-n.exited:
				return fmt.Errorf("nats-server %s exited at start: %s", n.name, n.out)
			default:
			}
			resp, err := probe.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", n.monitor))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nats-server %s not healthy within %s (%v): %s", c.nodes[i].name, clusterReadyWithin, err, n.out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	nc, err := nats.Connect(c.urls(), nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	placed := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TRIAGELOAD_PROBE", Subjects: []string{"triageload.probe"}, Replicas: clusterSize, Storage: jetstream.MemoryStorage})
		if err == nil {
			err = js.DeleteStream(ctx, "TRIAGELOAD_PROBE")
		}
		cancel()
		if err == nil {
			placed++
		} else {
			placed = 0
		}
		// Several in a row: a peer can still flap offline right after the first.
		if placed == 3 {
			return nil
		}
		if err != nil && time.Now().After(deadline) {
			return fmt.Errorf("the cluster could not place an R3 stream within %s: %w", clusterReadyWithin, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// urls are the nodes' client URLs, comma-separated, as --nats.url takes them.
func (c *natsCluster) urls() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.client))
	}
	return strings.Join(urls, ",")
}

// pids are the running nodes' process ids, for their CPU time and peak RSS.
func (c *natsCluster) pids() []string {
	var pids []string
	for _, n := range c.nodes {
		if n.cmd != nil && n.cmd.Process != nil {
			pids = append(pids, strconv.Itoa(n.cmd.Process.Pid))
		}
	}
	return pids
}

// kill kills node i with SIGKILL, as a lost machine or the OOM killer would, and waits until it
// has exited; its store stays for restart.
func (c *natsCluster) kill(i int) {
	n := c.nodes[i]
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	<-n.exited
	n.cmd = nil
}

// restart starts killed node i again on its ports and store and waits until the cluster is ready.
func (c *natsCluster) restart(i int) error {
	if err := c.startNode(i); err != nil {
		return err
	}
	return c.waitReady()
}

// stop kills every node and removes their files. Nothing of a node's store is needed after a run.
func (c *natsCluster) stop() {
	for i := range c.nodes {
		c.kill(i)
	}
	os.RemoveAll(c.dir)
}

// freePorts finds n distinct free loopback ports, all held open until all are found so none is
// handed out twice.
func freePorts(n int) ([]int, error) {
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
			return nil, errors.Join(errors.New("free loopback port"), err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
