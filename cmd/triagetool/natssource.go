package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/broker"
)

// historyFlags say where a daemon's history is read from: its NATS while it runs (--nats.url),
// or its storage directory once it has stopped (--storage.path). The commands that read the
// history (noise, backtest) share them.
type historyFlags struct {
	fs                 *flag.FlagSet
	url, prefix, store *string
	timeout            *time.Duration
}

func addHistoryFlags(fs *flag.FlagSet, timeout time.Duration) historyFlags {
	return historyFlags{
		fs:      fs,
		url:     fs.String("nats.url", defaultNATSURL, "`URL` of a running daemon's NATS: its --nats.url, or nats://ADDRESS of its nats.embedded_listen_address"),
		prefix:  fs.String("nats.prefix", "triaged", "the daemon's nats.prefix"),
		store:   fs.String("storage.path", "", "read a stopped daemon's embedded NATS storage: its --storage.path `DIR` (refused while a daemon runs on it)"),
		timeout: fs.Duration("timeout", timeout, "time allowed for the whole command"),
	}
}

// check says what is wrong with the flags: both sources named, or a timeout that is not positive.
func (h historyFlags) check() error {
	urlSet := false
	h.fs.Visit(func(f *flag.Flag) { urlSet = urlSet || f.Name == "nats.url" })
	if urlSet && *h.store != "" {
		return errors.New("--nats.url and --storage.path name two sources: give one (--nats.url for a running daemon, --storage.path for a stopped one)")
	}
	if *h.timeout <= 0 {
		return fmt.Errorf("--timeout: %s is not a positive duration", *h.timeout)
	}
	return nil
}

// open connects to the source the flags name.
func (h historyFlags) open() (jetstream.JetStream, broker.Names, func(), error) {
	return openNATSSource(*h.url, *h.prefix, *h.store, *h.timeout)
}

// openNATSSource connects to a daemon's JetStream: at natsURL, or, when storagePath is set, to
// an in-process NATS server started on the stopped daemon's storage (its --storage.path), whose
// lock it takes so that a daemon running on it is refused rather than its store corrupted.
// closeFn disconnects and, for a storage path, stops the server and gives the lock back.
func openNATSSource(natsURL, prefix, storagePath string, timeout time.Duration) (js jetstream.JetStream, names broker.Names, closeFn func(), err error) {
	names, err = broker.NewNames(prefix)
	if err != nil {
		return nil, names, nil, fmt.Errorf("--nats.prefix: %w", err)
	}
	if storagePath == "" {
		nc, err := nats.Connect(natsURL, nats.Name("triagetool"), nats.Timeout(timeout))
		if err != nil {
			return nil, names, nil, fmt.Errorf("connect to NATS at %s: %w", broker.RedactURLs(natsURL), err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return nil, names, nil, fmt.Errorf("JetStream at %s: %w", broker.RedactURLs(natsURL), err)
		}
		return js, names, nc.Close, nil
	}
	// The daemon keeps its embedded server's store under nats/ of its storage path (app.connectNATS).
	dir := filepath.Join(storagePath, "nats")
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, names, nil, fmt.Errorf("--storage.path: %s holds no triaged storage (no %s)", storagePath, filepath.Join(dir, "jetstream"))
		}
		return nil, names, nil, fmt.Errorf("--storage.path: %w", err)
	}
	unlock, err := broker.LockStore(dir)
	if errors.Is(err, broker.ErrStoreInUse) {
		return nil, names, nil, fmt.Errorf("--storage.path: %s is in use by a running triaged (it holds %s): read its history from its NATS with --nats.url, or stop it first", storagePath, filepath.Join(dir, "LOCK"))
	}
	if err != nil {
		return nil, names, nil, err
	}
	ns, err := broker.StartEmbedded(broker.EmbeddedOptions{StoreDir: dir})
	if err != nil {
		unlock()
		return nil, names, nil, fmt.Errorf("--storage.path: %w", err)
	}
	stop := func() {
		ns.Shutdown()
		ns.WaitForShutdown()
		unlock()
	}
	nc, err := nats.Connect("", nats.Name("triagetool"), nats.InProcessServer(ns), nats.Timeout(timeout))
	if err == nil {
		js, err = jetstream.New(nc)
		if err != nil {
			nc.Close()
		}
	}
	if err != nil {
		stop()
		return nil, names, nil, fmt.Errorf("--storage.path: connect to the NATS server on %s: %w", dir, err)
	}
	return js, names, func() { nc.Close(); stop() }, nil
}
