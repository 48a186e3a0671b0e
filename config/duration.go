package config

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Duration is a Prometheus-style duration ("30s", "5m", "7d") that remembers where a bad value
// stood, so the error can point at it.
type Duration model.Duration

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return model.Duration(d).String() }

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := model.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return &valueError{node: n, msg: fmt.Sprintf("%q is not a duration (use a number and a unit: ms, s, m, h, d, w, y; e.g. 30s, 5m, 7d)", n.Value)}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration the way it is read.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// valueError is a bad scalar found while decoding; Load turns its node into a key path.
type valueError struct {
	node *yaml.Node
	msg  string
}

func (e *valueError) Error() string { return e.msg }
