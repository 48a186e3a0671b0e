package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/broker"
	"github.com/triaged/triaged/history"
	"github.com/triaged/triaged/internal/testkit"
)

// A webhook lands in the history: its alert as received, classified by the rules in force, and
// the opening of its incident; on a stream sized by the config.
func TestAWebhookLandsInTheHistory(t *testing.T) {
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce+"nats:\n  history_max_age: 3d\n  history_max_bytes: 67108864\n")})
	r.postFile(t, "firing-1-alert.json")
	r.waitReports(t, 1)
	js, err := jetstream.New(r.app.Conn())
	if err != nil {
		t.Fatal(err)
	}
	names := broker.MustNames("triaged")
	ctx := context.Background()
	testkit.Eventually(t, testTimeout, "two history records", func() bool {
		n, err := history.Pending(ctx, js, names, time.Time{})
		return err == nil && n == 2
	})
	var recs []history.Record
	if _, err := history.Read(ctx, js, names, time.Time{}, 0, func(rec history.Record) error {
		recs = append(recs, rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Kind != history.KindAlert || recs[1].Kind != history.KindOpening {
		t.Fatalf("history %+v, want the alert, then the opening", recs)
	}
	a, o := recs[0], recs[1]
	if a.Alert.Name() != "AlwaysFiring" || a.Alert.Annotations["summary"] == "" || a.Alert.Group.Receiver != "webhook" ||
		a.Alert.Group.CommonLabels["team"] != "shop" || a.Service.Name != "checkout" || !a.Severity.Valid() || a.RuleSetVersion == "" {
		t.Errorf("alert record %+v: want the alert as received with its group, service and classification", a)
	}
	if o.Incident == "" || o.Group != a.Group || o.Severity != a.Severity || o.Evidence == nil {
		t.Errorf("opening record: incident %q, group %q, severity %s, evidence %v; want the incident of the alert's group, at its severity, with evidence", o.Incident, o.Group, o.Severity, o.Evidence)
	}
	s, err := js.Stream(ctx, names.HistoryStream())
	if err != nil {
		t.Fatal(err)
	}
	if c := s.CachedInfo().Config; c.MaxAge != 3*24*time.Hour || c.MaxBytes != 64<<20 || c.Duplicates != 10*time.Minute || c.Compression != jetstream.S2Compression {
		t.Errorf("history stream: max age %v, max bytes %d, duplicates %v, compression %v; want the config's 3d, 64 MiB, the duplicate window 10m, S2", c.MaxAge, c.MaxBytes, c.Duplicates, c.Compression)
	}
}

// history_max_age 0s keeps none: no stream, and triaged is ready and reports without it.
func TestHistoryTurnedOff(t *testing.T) {
	r := start(t, app.Options{ConfigFile: configFile(t, reportAtOnce+"nats:\n  history_max_age: 0s\n")})
	r.postFile(t, "firing-1-alert.json")
	r.waitReports(t, 1)
	js, err := jetstream.New(r.app.Conn())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(context.Background(), broker.MustNames("triaged").HistoryStream()); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("history stream lookup: %v, want not found", err)
	}
	if code, body := r.get(t, "/-/ready"); code != 200 {
		t.Errorf("/-/ready: %d %s", code, body)
	}
}
