package triage

import (
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/rules"
)

// recordingShadow counts what it was shown.
type recordingShadow struct{ classified, escalated int }

func (s *recordingShadow) CompareClassify(triaged.Classification, *triaged.Alert, triaged.Service, time.Time) {
	s.classified++
}

func (s *recordingShadow) CompareEscalate(_, _ triaged.Classification, _ *triaged.Alert, _ triaged.Service, _ triaged.Enrichment, _ time.Time) {
	s.escalated++
}

func TestWithShadowDecidesAsTheRulesInForce(t *testing.T) {
	engine, err := rules.NewEngine([]string{"../rules/testdata/shadow/in-force.rules.yml"}, rules.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shadow, err := rules.NewShadow([]string{"../rules/testdata/shadow/candidate.rules.yml"}, rules.ShadowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 15, 10, 0, 0, time.UTC)
	svc := triaged.Service{Name: "shop"}
	for _, labels := range []template.KV{
		{"alertname": "HighLatency", "env": "prod"},
		{"alertname": "DiskAlmostFull"},
		{"alertname": "CheckoutErrors", "tier": "frontend"},
	} {
		a := &triaged.Alert{Alert: template.Alert{Status: triaged.StatusFiring, Labels: labels, StartsAt: now.Add(-time.Minute)}}
		c, e := WithShadow(engine, engine, shadow)
		want := engine.Classify(a, svc, now)
		got := c.Classify(a, svc, now)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: classified %+v, want %+v as in force", a.Name(), got, want)
		}
		if wantEsc, gotEsc := engine.Escalate(want, a, svc, triaged.Enrichment{}, now), e.Escalate(got, a, svc, triaged.Enrichment{}, now); !reflect.DeepEqual(gotEsc, wantEsc) {
			t.Errorf("%s: escalated %+v, want %+v as in force", a.Name(), gotEsc, wantEsc)
		}
	}
	if st := shadow.Status(0); st.Disagreements != 3 || st.Evaluations[rules.StageClassify] != 3 || st.Evaluations[rules.StageEscalate] != 3 {
		t.Errorf("the shadow saw %v, %d disagreements; want 3 of each stage, 3 disagreements", st.Evaluations, st.Disagreements)
	}
}

func TestWithShadowNilCostsNothing(t *testing.T) {
	engine, err := rules.NewEngine(nil, rules.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, e := WithShadow(engine, engine, nil)
	if c != Classifier(engine) || e != Escalator(engine) {
		t.Errorf("without a shadow set: %T, %T; want the engine itself", c, e)
	}
	if c, e := WithShadow(engine, nil, &recordingShadow{}); e != nil {
		t.Errorf("a nil escalator became %T", e)
	} else if _, ok := c.(shadowClassifier); !ok {
		t.Errorf("classifier %T", c)
	}
}

// TestUnshadowed: an investigation classifies again without the shadow set, heartbeat
// classifier or not, so that each alert is compared once, when it arrives.
func TestUnshadowed(t *testing.T) {
	engine, err := rules.NewEngine(nil, rules.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingShadow{}
	shadowed, _ := WithShadow(engine, nil, rec)
	for _, c := range []struct {
		in, want Classifier
	}{
		{shadowed, engine},
		{heartbeatClassifier{shadowed}, heartbeatClassifier{engine}},
		{engine, engine},
		{heartbeatClassifier{engine}, heartbeatClassifier{engine}},
	} {
		if got := unshadowed(c.in); got != c.want {
			t.Errorf("unshadowed(%#v) = %#v, want %#v", c.in, got, c.want)
		}
	}
	a := &triaged.Alert{Alert: template.Alert{Status: triaged.StatusFiring, Labels: template.KV{"alertname": "X"}}}
	unshadowed(heartbeatClassifier{shadowed}).Classify(a, triaged.Service{}, time.Now())
	if rec.classified != 0 {
		t.Errorf("the shadow was shown %d alerts by an unshadowed classifier", rec.classified)
	}
}
