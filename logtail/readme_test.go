package logtail

import (
	"bytes"
	"os"
	"regexp"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// TestREADMEExample decodes and compiles the documented example, so it cannot go stale.
func TestREADMEExample(t *testing.T) {
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(md)
	if m == nil {
		t.Fatal("README.md has no yaml block")
	}
	var doc struct {
		Logs []Spec `yaml:"logs"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(m[1]))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Logs) != 4 {
		t.Fatalf("%d sources", len(doc.Logs))
	}
	compiled := make([]*Compiled, len(doc.Logs))
	for i, s := range doc.Logs {
		if compiled[i], err = Compile(s); err != nil {
			t.Errorf("logs[%d]: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	k := doc.Logs[2].Command
	if k.Timeout.Std() != 10*time.Second || k.Env["KUBECONFIG"] == "" || len(k.Argv) != 6 {
		t.Errorf("decoded %+v", k)
	}
	if compiled[0].lines != 50 || compiled[0].file.scanBytes != 4<<20 || compiled[1].filter.String() != "." {
		t.Errorf("compiled %+v %+v", compiled[0], compiled[1])
	}
	path := compiled[1].file.path
	if got, err := path.Fill(map[string]string{"pod": "checkout-7d9f8b6c4-x2k9p"}); err != nil || got != "/var/log/checkout/checkout-7d9f8b6c4-x2k9p.log" {
		t.Errorf("instance-log fill = %q, %v", got, err)
	}
	if _, err := path.Fill(map[string]string{"pod": "../../../etc/shadow"}); err == nil {
		t.Error("instance-log accepted a path outside its directory")
	}
}
