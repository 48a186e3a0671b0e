package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// SlackWebhook is the sink of a Slack incoming webhook: one message per report, the root
// message's lines (the headline first) and then the full report. An incoming webhook has no
// threads and no edits, and posts to the one channel it was created for.
type SlackWebhook struct {
	name string
	url  string // a secret: never in an error or a log
	r    *SlackRenderer
	hc   *http.Client
	log  *slog.Logger

	mu     sync.Mutex
	recent *recentIDs
}

var _ Sink = (*SlackWebhook)(nil)

func (s *SlackWebhook) Name() string { return s.name }

// Deliver posts rep. A report posted by this process is not posted again; an incoming webhook
// offers no way to find a message posted before a restart, so Delivery.MaybePosted cannot be
// honoured: a crash between posting and recording can show a report twice.
func (s *SlackWebhook) Deliver(ctx context.Context, d Delivery) (*Thread, error) {
	rep := d.Report
	if rep == nil {
		return nil, Permanent(errors.New("slack webhook: nil report"))
	}
	s.mu.Lock()
	done := s.recent.seen(rep.ID)
	s.mu.Unlock()
	if done {
		return nil, nil
	}
	m, err := s.r.Whole(rep)
	if err != nil {
		return nil, Permanent(err)
	}
	body, err := encodeSlack(m)
	if err != nil {
		return nil, fmt.Errorf("slack webhook: report %s: %w", rep.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, Permanent(fmt.Errorf("slack webhook: the URL in url_file: %w", redactURLError(err)))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("slack webhook: post report %s: %w", rep.ID, redactURLError(err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err := statusError("slack webhook: post report "+rep.ID, resp, answer, time.Now()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.recent.add(rep.ID)
	s.mu.Unlock()
	return nil, nil
}

// redactURLError drops the URL from an HTTP client's error: an incoming webhook's URL is its
// credential.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// openSlackWebhook reads the webhook's URL and the template and builds the sink.
func openSlackWebhook(c SinkConfig, env SinkEnv) (Sink, func() error, error) {
	u, err := readSecretFile("url_file", c.URLFile)
	if err != nil {
		return nil, nil, err
	}
	if err := checkHTTPURL(u); err != nil {
		return nil, nil, fmt.Errorf("url_file %s: the file does not hold an http(s) URL", c.URLFile)
	}
	r, err := NewSlackRenderer(c.Template, env.ExternalURL)
	if err != nil {
		return nil, nil, err
	}
	return &SlackWebhook{
		name:   cmpOr(c.Name, "slack_webhook"),
		url:    u,
		r:      r,
		hc:     &http.Client{Timeout: slackTimeout},
		log:    loggerOr(env.Logger),
		recent: newRecentIDs(recentCapacity),
	}, func() error { return nil }, nil
}
