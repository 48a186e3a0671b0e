package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/triaged/triaged/deploy"
)

// defaultURL is where `deploy record` finds triaged when neither --url nor $TRIAGED_URL says:
// the daemon's default listen address.
const defaultURL = "http://localhost:9095"

// retryDelay is the pause before the first retry, doubled for each next one; tests shorten it.
var retryDelay = time.Second

func runDeploy(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "record" {
		fmt.Fprintf(stderr, "triagetool deploy: only \"deploy record\" exists\n\n%s", usageText)
		return exitUsage
	}
	return deployRecord(args[1:], stdout, stderr)
}

// deployRecord posts one deploy event to triaged, as a CI job's last step does. It prints the
// event as stored, or the server's one-line reason, and retries only what a retry can fix.
func deployRecord(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("deploy record", "--service NAME [--environment ENV] [--version VERSION] [--commit SHA] [--author WHO] [--link URL] [--time RFC3339] [--status STATUS] [--url URL] [--token-file FILE]", stderr)
	server := fs.String("url", "", "base `URL` of triaged (default $TRIAGED_URL, else "+defaultURL+")")
	tokenFile := fs.String("token-file", "", "`FILE` holding a bearer token of triaged's --web.auth-token-file (default $TRIAGED_TOKEN_FILE)")
	var e deploy.Event
	fs.StringVar(&e.Service, "service", "", "`NAME` of the deployed service (required)")
	fs.StringVar(&e.Environment, "environment", "", "environment `ENV` deployed to, e.g. prod")
	fs.StringVar(&e.Version, "version", "", "`VERSION` deployed")
	fs.StringVar(&e.Commit, "commit", "", "commit `SHA` deployed")
	fs.StringVar(&e.Author, "author", "", "`WHO` deployed: a name or login")
	fs.StringVar(&e.URL, "link", "", "`URL` of the CI run or release, shown in reports")
	at := fs.String("time", "", "when the deploy happened, `RFC3339` (default: now, fixed before the first attempt so a retry stores once)")
	fs.StringVar(&e.Status, "status", deploy.StatusSucceeded, "deploy `STATUS`, one of "+strings.Join(deploy.Statuses, ", "))
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for each attempt")
	retries := fs.Int("retries", 2, "`N` retries after a 5xx answer or a connection error, 1s apart and doubling")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return usageExit(err)
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "triagetool deploy record: unexpected argument %q\n", rest[0])
		fs.Usage()
		return exitUsage
	}
	if e.Service == "" {
		fmt.Fprintln(stderr, "triagetool deploy record: --service is required")
		fs.Usage()
		return exitUsage
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "triagetool deploy record: "+format+"\n", args...)
		return exitFailure
	}

	e.Time = time.Now().UTC().Truncate(time.Second)
	if *at != "" {
		if e.Time, err = time.Parse(time.RFC3339Nano, *at); err != nil {
			return fail("--time: invalid time %q: want RFC 3339, e.g. 2026-11-26T15:10:00Z", *at)
		}
	}
	// Checked here too, so a CI job learns about a bad flag without a server to ask.
	if err := e.Validate(); err != nil {
		var fe *deploy.FieldError
		if errors.As(err, &fe) {
			return fail("%s: %s", flagOf(fe.Field), fe.Msg)
		}
		return fail("%v", err)
	}
	body, err := json.Marshal(&e)
	if err != nil {
		return fail("encode event: %v", err)
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		return fail("%v", err)
	}

	endpoint := endpointURL(*server)
	client := &http.Client{Timeout: *timeout}
	delay := retryDelay
	for attempt := 0; ; attempt++ {
		code, reply, err := postEvent(client, endpoint, token, body)
		switch {
		case err == nil && code == http.StatusCreated:
			fmt.Fprintln(stdout, reply)
			return exitOK
		case err == nil && code == http.StatusOK:
			fmt.Fprintln(stdout, reply)
			fmt.Fprintln(stderr, "triagetool deploy record: already recorded; nothing new stored")
			return exitOK
		case err == nil && code < 500:
			return fail("triaged refused the event (%d %s): %s", code, http.StatusText(code), reply)
		}
		reason := fmt.Sprintf("%v", err)
		if err == nil {
			reason = fmt.Sprintf("triaged answered %d %s: %s", code, http.StatusText(code), reply)
		}
		if attempt >= *retries {
			return fail("%s", reason)
		}
		fmt.Fprintf(stderr, "triagetool deploy record: %s; retrying in %s\n", reason, delay)
		time.Sleep(delay)
		delay *= 2
	}
}

// endpointURL accepts triaged's base URL, with or without a path prefix of a reverse proxy, or
// the endpoint itself.
func endpointURL(base string) string {
	if base == "" {
		base = os.Getenv("TRIAGED_URL")
	}
	if base == "" {
		base = defaultURL
	}
	base = strings.TrimSuffix(base, "/")
	if strings.HasSuffix(base, "/api/v1/deploys") {
		return base
	}
	return base + "/api/v1/deploys"
}

// readToken reads the bearer token of --token-file, else of $TRIAGED_TOKEN_FILE; no file, no
// token. The file is read as Alertmanager reads a credentials_file: trimmed of white space.
func readToken(file string) (string, error) {
	flag := "--token-file"
	if file == "" {
		file, flag = os.Getenv("TRIAGED_TOKEN_FILE"), "$TRIAGED_TOKEN_FILE"
	}
	if file == "" {
		return "", nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("%s %s: the file is empty; it must hold the bearer token", flag, file)
	}
	return token, nil
}

// postEvent returns the status and the first line of the reply: the stored event, or the
// server's one-line reason.
func postEvent(client *http.Client, endpoint, token string, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "triagetool")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if err != nil {
		return 0, "", fmt.Errorf("read the reply of %s: %w", endpoint, err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(data)), "\n")
	return resp.StatusCode, line, nil
}

// flagOf names the flag that set an event field: the JSON field url is the --link flag, as
// --url is triaged's address.
func flagOf(field string) string {
	if field == "url" {
		return "--link"
	}
	return "--" + field
}
