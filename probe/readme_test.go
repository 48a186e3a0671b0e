package probe

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/internal/confval"
)

// readmeYAML returns the first yaml block of README.md, so the documented example is tested.
func readmeYAML(t *testing.T) []byte {
	t.Helper()
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(md)
	if m == nil {
		t.Fatal("README.md has no yaml block")
	}
	return m[1]
}

func TestREADMEExample(t *testing.T) {
	var doc struct {
		Probes []Spec `yaml:"probes"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(readmeYAML(t)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Probes) != 4 {
		t.Fatalf("%d probes", len(doc.Probes))
	}
	for i, s := range doc.Probes {
		if _, err := Compile(s); err != nil {
			t.Errorf("probes[%d]: %v", i, err)
		}
	}
	h := doc.Probes[0].HTTP
	if h.Timeout.Std() != 3*time.Second || len(h.ExpectStatus) != 2 || h.Headers["Host"] != "checkout.example.com" {
		t.Errorf("decoded %+v", h)
	}
	c, _ := Compile(doc.Probes[3])
	got, err := c.tcp.address.Fill(map[string]string{"instance": "10.0.3.7:9100"})
	if err != nil || got != "10.0.3.7:5432" {
		t.Errorf("instance-port fill = %q, %v", got, err)
	}
	if _, err := c.tcp.address.Fill(map[string]string{"instance": "10.0.3.7.evil.example:9100"}); err == nil {
		t.Error("instance-port accepted another host")
	}
}

func TestYAMLBadDuration(t *testing.T) {
	var s Spec
	err := yaml.Unmarshal([]byte("name: x\ntcp:\n  address: a:1\n  timeout: 5 seconds\n"), &s)
	var ve *confval.ValueError
	if !errors.As(err, &ve) || ve.Node.Line != 4 || ve.Node.Column != 12 || !strings.Contains(ve.Msg, `"5 seconds" is not a duration`) {
		t.Errorf("err = %v: want a value error at 4:12 naming the bad duration", err)
	}
}
