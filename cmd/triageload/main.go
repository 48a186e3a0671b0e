// Command triageload measures triaged under load, with a whole triaged running in process and
// the stdout sink rendering every report. It has two modes.
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
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"
)

func main() {
	rate := flag.Int("rate", 1000, "latency mode: alerts per second to send")
	duration := flag.Duration("duration", 60*time.Second, "latency mode: how long to send")
	perWebhook := flag.Int("alerts-per-webhook", 10, "latency mode: alerts in each webhook (one group per webhook)")
	storage := flag.String("storage.path", "", "latency mode: embedded NATS storage (default: a temporary directory, removed after)")
	storms := flag.String("storm", "", `storm mode: the storms to run, in order, e.g. "A,B" (A: 1,000 groups of 100 alerts; B: 10,000 groups of 1)`)
	order := flag.String("order", orderShuffled, "storm mode: order of the webhooks: shuffled, grouped (a group's webhooks one after the other) or interleaved (every group's first webhook, then every second, ...)")
	natsServer := flag.String("nats-server", "", "storm mode: the nats-server binary to run (default: build github.com/nats-io/nats-server/v2 of this module with `go build`)")
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
	if *storms != "" {
		err = runStorms(strings.Split(*storms, ","), *order, *natsServer)
	} else {
		err = runLatency(*rate, *perWebhook, *duration, *storage)
	}
	if err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "triageload:", err)
		os.Exit(1)
	}
}
