// Command triageload measures triaged under load, with a whole triaged running in process and
// the stdout sink rendering every report. It has three modes.
//
// Latency (the default): Alertmanager webhooks at a fixed rate over HTTP, each a new group,
// timed from the webhook to its group's opening report on the reports stream. It runs on the
// embedded NATS server.
//
//	go run ./cmd/triageload -rate 1000 -duration 60s
//
// Storm: a burst of webhooks as fast as 8 concurrent senders can post them, against an external
// nats-server process that the tool builds from the module's nats-server and starts (JetStream on
// file storage in a temporary directory, on loopback); triaged connects to it by URL with the
// default config. Storm A is 100,000 alerts in 1,000 groups of 100, each group sent as 10-alert
// webhooks; storm B is 10,000 groups of one alert. Each storm checks its incidents, reports and
// timing, and the process's peak RSS; the tool exits 1 if a check fails.
//
//	go run ./cmd/triageload -storm A,B
//
// Cluster: a benchmark of 1, 2 and 3 triaged replicas (in process, each a whole app with its own
// HTTP listener) on a three-node nats-server cluster of processes on loopback (JetStream on file
// storage, built from the module as in storm mode) with nats.replicas 3, and optionally 1. Each
// row gets a fresh cluster and replicas and sends the same workload (by default 40,000 alerts in
// 1,000 groups, as 4,000 shuffled webhooks of 10 alerts) from 8 senders, each webhook to a
// replica picked at random as a load balancer would, a refused one (503) again to the next. It
// reports per row the webhooks and alerts accepted per second, the time to the last opening
// report, the webhook→opening latency (from the first post of a group's webhooks), CPU time
// and peak RSS, and a row of one replica on the embedded server to compare; -kill-node kills
// one nats-server -9 halfway through sending and restarts it. It checks that every group
// opened exactly once with all its alerts and exits 1 if not.
//
//	go run ./cmd/triageload -cluster -replicas 1,2,3 -nats-replicas 1,3
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
)

func main() {
	rate := flag.Int("rate", 1000, "latency mode: alerts per second to send")
	duration := flag.Duration("duration", 60*time.Second, "latency mode: how long to send")
	perWebhook := flag.Int("alerts-per-webhook", 10, "latency and cluster modes: alerts in each webhook (latency mode: one group per webhook)")
	storage := flag.String("storage.path", "", "latency mode: embedded NATS storage (default: a temporary directory, removed after)")
	storms := flag.String("storm", "", `storm mode: the storms to run, in order, e.g. "A,B" (A: 1,000 groups of 100 alerts; B: 10,000 groups of 1)`)
	order := flag.String("order", orderShuffled, "storm mode: order of the webhooks: shuffled, grouped (a group's webhooks one after the other) or interleaved (every group's first webhook, then every second, ...)")
	natsServer := flag.String("nats-server", "", "storm and cluster modes: the nats-server binary to run (default: build github.com/nats-io/nats-server/v2 of this module with `go build`)")
	cluster := flag.Bool("cluster", false, "cluster mode: benchmark triaged replicas on a three-node nats-server cluster")
	replicas := flag.String("replicas", "1,2,3", "cluster mode: the triaged replica counts, one row each")
	natsReplicas := flag.String("nats-replicas", "3", `cluster mode: the nats.replicas values (1 to 3), one set of rows each, e.g. "1,3"`)
	embedded := flag.Bool("embedded", true, "cluster mode: first a row of one replica on the embedded NATS server, to compare")
	killNode := flag.Bool("kill-node", false, "cluster mode: kill one nats-server -9 halfway through each cluster row's sending, and restart it")
	groups := flag.Int("groups", 1000, "cluster mode: groups in the workload")
	webhooksPerGroup := flag.Int("webhooks-per-group", 4, "cluster mode: webhooks of each group, of -alerts-per-webhook alerts each")
	configFile := flag.String("config.file", "", "storm mode: the triaged configuration file to run with (default: the built-in defaults, whose stdout sink writes into io.Discard)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (triaged and the tool; not nats-server) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "triageload: -cpuprofile:", err)
			os.Exit(2)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	var err error
	if *cluster {
		o := benchOptions{embedded: *embedded, killNode: *killNode, groups: *groups, perGroup: *webhooksPerGroup, perWebhook: *perWebhook, bin: *natsServer}
		if o.replicas, err = parseCounts("-replicas", *replicas, 1, 16); err == nil {
			o.streamReplicas, err = parseCounts("-nats-replicas", *natsReplicas, 1, clusterSize)
		}
		if err == nil {
			err = runBench(o)
		}
	} else if *storms != "" {
		err = runStorms(strings.Split(*storms, ","), *order, *natsServer, *configFile)
	} else {
		err = runLatency(*rate, *perWebhook, *duration, *storage)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "triageload:", err)
		os.Exit(1)
	}
}

// parseCounts reads a comma-separated list of counts, each within [lo, hi], for flag name.
func parseCounts(name, list string, lo, hi int) ([]int, error) {
	var counts []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("%s: %q is not a count from %d to %d", name, strings.TrimSpace(f), lo, hi)
		}
		counts = append(counts, n)
	}
	return counts, nil
}
