package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/triaged/triaged/config"
)

// The README's configuration reference claims to list every key with its default: hold it to that.
func TestREADMEConfigReferenceIsTheDefaults(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "Every key, with its\ndefault:\n\n```yaml\n")
	if !ok {
		t.Fatal("README.md has no configuration reference block")
	}
	block, _, _ := strings.Cut(rest, "```")
	c, err := config.Load([]byte(block), "README.md")
	if err != nil {
		t.Fatalf("the README's configuration reference does not load: %v", err)
	}
	d := config.Default()
	c.Sinks, c.File = d.Sinks, "" // the reference shows a second sink as an example
	got, _ := c.Marshal()
	want, _ := d.Marshal()
	if string(got) != string(want) {
		t.Errorf("README defaults differ from config.Default():\n--- README\n%s\n--- Default\n%s", got, want)
	}
}
