package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/triaged/triaged"
)

// The headers of a generic webhook request (README: "Generic webhook").
const (
	WebhookTimestampHeader = "X-Triaged-Timestamp" // Unix seconds when the request was signed
	WebhookSignatureHeader = "X-Triaged-Signature" // "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body))
	WebhookDeliveryHeader  = "X-Triaged-Delivery"  // the report id: the same for every retry of one report
	WebhookEventHeader     = "X-Triaged-Event"     // opened, updated, resolved
	WebhookSchemaHeader    = "X-Triaged-Schema-Version"
)

// webhook posts each report's JSON, signed, to one URL.
type webhook struct {
	url    string
	secret []byte
	client hookClient
	now    func() time.Time
	logger *slog.Logger
}

func openWebhook(c SinkConfig, env SinkEnv) (Sink, func() error, error) {
	u, err := parseHookURL("url", c.URL, false)
	if err != nil {
		return nil, nil, err
	}
	secret, err := readSecretFile("secret_file", c.SecretFile)
	if err != nil {
		return nil, nil, err
	}
	return &webhook{url: u.String(), secret: []byte(secret), client: newHookClient(u), now: time.Now,
		logger: loggerOr(env.Logger).With("component", "notify", "sink", c.Name, "target", u.Scheme+"://"+u.Host)}, func() error { return nil }, nil
}

func (w *webhook) Name() string { return "webhook" }

// Deliver posts the report. A receiver recognises a retry by the delivery header (the report
// id); every attempt is signed afresh, so its timestamp is recent.
func (w *webhook) Deliver(ctx context.Context, d Delivery) (*Thread, error) {
	rep := d.Report
	if rep == nil {
		return nil, Permanent(errors.New("post report to webhook: nil report"))
	}
	body, err := triaged.EncodeReport(rep)
	if err != nil {
		return nil, Permanent(fmt.Errorf("post report %s to webhook: encode: %w", rep.ID, err))
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	hdr := http.Header{}
	hdr.Set(WebhookTimestampHeader, ts)
	hdr.Set(WebhookSignatureHeader, SignWebhook(w.secret, ts, body))
	hdr.Set(WebhookDeliveryHeader, rep.ID)
	hdr.Set(WebhookEventHeader, string(rep.Event))
	hdr.Set(WebhookSchemaHeader, strconv.Itoa(rep.SchemaVersion))
	if _, err := w.client.do(ctx, "post report "+rep.ID, http.MethodPost, w.url, hdr, body); err != nil {
		return nil, err
	}
	w.logger.Debug("report delivered", "report", rep.ID, "incident", rep.IncidentID)
	return nil, nil
}

// SignWebhook is the signature header's value for body sent at timestamp ts (Unix seconds, in
// decimal): "v1=" and the hex HMAC-SHA256, keyed with secret, of ts + "." + body. Signing the
// timestamp with the body lets a receiver refuse a replayed request whose timestamp is old.
func SignWebhook(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}
