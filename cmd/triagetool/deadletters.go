package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/broker"
)

// defaultNATSURL is where the dead-letters commands find NATS when --nats.url does not say: the
// address an operator gives the embedded server with nats.embedded_listen_address, or NATS' own
// default port.
const defaultNATSURL = "nats://127.0.0.1:4222"

func runDeadLetters(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "list":
			return deadLettersList(args[1:], stdout, stderr)
		case "replay":
			return deadLettersReplay(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "triagetool dead-letters: want \"dead-letters list\" or \"dead-letters replay ID\"\n\n%s", usageText)
	return exitUsage
}

// natsFlags are the flags naming a daemon's NATS and its prefix.
type natsFlags struct {
	url, prefix *string
	timeout     *time.Duration
}

func addNATSFlags(fs *flag.FlagSet) natsFlags {
	return natsFlags{
		url:     fs.String("nats.url", defaultNATSURL, "`URL` of the daemon's NATS: its --nats.url, or nats://ADDRESS of its nats.embedded_listen_address"),
		prefix:  fs.String("nats.prefix", "triaged", "the daemon's nats.prefix"),
		timeout: fs.Duration("timeout", 10*time.Second, "time allowed for the whole command"),
	}
}

// open connects and returns the dead-letters stream; done ends the connection.
func (f natsFlags) open(ctx context.Context) (js jetstream.JetStream, names broker.Names, s jetstream.Stream, done func(), err error) {
	js, names, done, err = openNATSSource(*f.url, *f.prefix, "", *f.timeout)
	if err != nil {
		return nil, names, nil, nil, err
	}
	if s, err = js.Stream(ctx, names.DeadLettersStream()); err != nil {
		done()
		return nil, names, nil, nil, fmt.Errorf("stream %s at %s: %w", names.DeadLettersStream(), broker.RedactURLs(*f.url), err)
	}
	return js, names, s, done, nil
}

// deadLettersList prints every dead letter, oldest first: its id (the stream sequence, which
// replay takes), when it was set aside, where it came from, why, and its size.
func deadLettersList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dead-letters list", "[--nats.url URL] [--nats.prefix PREFIX]", stderr)
	nf := addNATSFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return usageExit(err)
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "triagetool dead-letters list: unexpected argument %q\n", rest[0])
		fs.Usage()
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *nf.timeout)
	defer cancel()
	_, names, s, closeConn, err := nf.open(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "triagetool dead-letters list: %v\n", err)
		return exitFailure
	}
	defer closeConn()
	info, err := s.Info(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "triagetool dead-letters list: stream %s: %v\n", names.DeadLettersStream(), err)
		return exitFailure
	}
	if info.State.Msgs == 0 {
		fmt.Fprintf(stdout, "no dead letters in %s\n", names.DeadLettersStream())
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tORIGIN\tREASON\tSIZE\tERROR")
	found := uint64(0)
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && found < info.State.Msgs; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // replayed, or aged out
		}
		if err != nil {
			tw.Flush()
			fmt.Fprintf(stderr, "triagetool dead-letters list: dead letter %d: %v\n", seq, err)
			return exitFailure
		}
		found++
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", seq, m.Time.UTC().Format(time.RFC3339),
			m.Header.Get(broker.HeaderOriginSubject), m.Header.Get(broker.HeaderReason), len(m.Data),
			shorten(m.Header.Get(broker.HeaderError), 100))
	}
	tw.Flush()
	return exitOK
}

// deadLettersReplay publishes a dead letter's payload on the subject it came from, where its
// consumer takes it up afresh, and then deletes the dead letter.
func deadLettersReplay(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("dead-letters replay", "[--nats.url URL] [--nats.prefix PREFIX] ID", stderr)
	nf := addNATSFlags(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return usageExit(err)
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "triagetool dead-letters replay: want one ID, as dead-letters list shows it")
		fs.Usage()
		return exitUsage
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "triagetool dead-letters replay: "+format+"\n", args...)
		return exitFailure
	}
	seq, err := strconv.ParseUint(rest[0], 10, 64)
	if err != nil || seq == 0 {
		fmt.Fprintf(stderr, "triagetool dead-letters replay: %q is not an ID: want the number dead-letters list shows\n", rest[0])
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *nf.timeout)
	defer cancel()
	js, names, _, closeConn, err := nf.open(ctx)
	if err != nil {
		return fail("%v", err)
	}
	defer closeConn()
	r, err := broker.NewDeadLetterStore(js, names).Replay(ctx, seq)
	if err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(stdout, "replayed dead letter %d on %s (%s sequence %d); dead letter deleted\n", seq, r.DeadLetter.Origin, r.Stream, r.Sequence)
	return exitOK
}

// shorten keeps s to n bytes, on a rune boundary.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
