// Package confval holds the value types of triaged's YAML configuration that the config package
// and the specs it embeds (probes, log sources) share, with errors that point at their node.
package confval

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
		return &ValueError{Node: n, Msg: fmt.Sprintf("%q is not a duration (use a number and a unit: ms, s, m, h, d, w, y; e.g. 30s, 5m, 7d)", n.Value)}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration the way it is read.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ValueError is a bad scalar found while decoding; the config loader turns its node into a
// file:line:column and a key path.
type ValueError struct {
	Node *yaml.Node
	Msg  string
}

func (e *ValueError) Error() string { return e.Msg }
