package triage

import (
	"time"

	"github.com/triaged/triaged"
)

// Shadow evaluates a candidate rule set beside the rules in force (rules.Shadow is one). It is
// told what the rules in force decided and decides the same alert itself, to count where the two
// differ; it returns nothing, so that nothing it decides can reach an incident or a report.
type Shadow interface {
	// CompareClassify is called with each alert triaged and its classification in force.
	CompareClassify(inForce triaged.Classification, a *triaged.Alert, svc triaged.Service, now time.Time)
	// CompareEscalate is called with each incident investigated: base is the classification
	// that was escalated into inForce over enrichment enr.
	CompareEscalate(base, inForce triaged.Classification, a *triaged.Alert, svc triaged.Service, enr triaged.Enrichment, now time.Time)
}

// WithShadow returns the classifier and escalator that decide as c and e do and show each
// alert, and each investigation, to s as well. A nil s returns c and e, unchanged: no shadow
// set costs nothing. A nil e stays nil.
func WithShadow(c Classifier, e Escalator, s Shadow) (Classifier, Escalator) {
	if s == nil {
		return c, e
	}
	if e != nil {
		e = shadowEscalator{e, s}
	}
	return shadowClassifier{c, s}, e
}

// shadowClassifier shows every alert the worker classifies to the shadow set, after the rules in
// force decided it.
type shadowClassifier struct {
	Classifier
	shadow Shadow
}

func (c shadowClassifier) Classify(a *triaged.Alert, svc triaged.Service, now time.Time) triaged.Classification {
	cls := c.Classifier.Classify(a, svc, now)
	c.shadow.CompareClassify(cls, a, svc, now)
	return cls
}

type shadowEscalator struct {
	Escalator
	shadow Shadow
}

func (e shadowEscalator) Escalate(c triaged.Classification, a *triaged.Alert, svc triaged.Service, enr triaged.Enrichment, now time.Time) triaged.Classification {
	out := e.Escalator.Escalate(c, a, svc, enr, now)
	e.shadow.CompareEscalate(c, out, a, svc, enr, now)
	return out
}

// unshadowed is c without the shadow set: an investigation classifies again the alert that
// was compared when it arrived, and the comparison counts each alert once. It looks through the
// heartbeat classifier, which wraps whatever classifier the worker was given.
func unshadowed(c Classifier) Classifier {
	switch c := c.(type) {
	case shadowClassifier:
		return c.Classifier
	case heartbeatClassifier:
		if s, ok := c.Classifier.(shadowClassifier); ok {
			return heartbeatClassifier{s.Classifier}
		}
	}
	return c
}
