package target

import (
	"errors"
	"strings"
	"testing"
)

func mustAllow(t *testing.T, p string) *Allow {
	t.Helper()
	a, err := CompileAllow(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestParseErrors(t *testing.T) {
	allow := mustAllow(t, `.+`)
	cases := []struct {
		raw   string
		allow *Allow
		want  string
	}{
		{"http://{{ .Labels.instance }}/", nil, "is a template"},
		{"http://{{ .Labels.instance }/", allow, "unexpected"},
		{"http://{{ .Label.instance }}/", allow, "can't evaluate field Label"},
		{"http://{{ nosuchfunc .Labels.x }}/", allow, `function "nosuchfunc" not defined`},
		{`{{ reReplaceAll "(" "" .Labels.x }}`, allow, "error parsing regexp"},
	}
	for _, c := range cases {
		_, err := Parse("url", c.raw, c.allow)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", c.raw, err, c.want)
		}
	}
}

func TestCompileAllow(t *testing.T) {
	if a, err := CompileAllow(""); a != nil || err != nil {
		t.Errorf("empty pattern: %v, %v", a, err)
	}
	for _, p := range []string{`(`, `.*`, `a|`} {
		if _, err := CompileAllow(p); err == nil {
			t.Errorf("CompileAllow(%q): no error", p)
		}
	}
}

func TestFill(t *testing.T) {
	cases := []struct {
		name, raw, allow string
		labels           map[string]string
		want             string // filled value, or the error text when refused
		refused          bool
	}{
		{"literal", "http://127.0.0.1:8080/healthz", "", nil, "http://127.0.0.1:8080/healthz", false},
		{"literal ignores labels", "http://a/", "", map[string]string{"instance": "x"}, "http://a/", false},
		{"filled and allowed", "http://{{ .Labels.instance }}/healthz", `http://10\.0\.0\.[0-9]+:8080/healthz`,
			map[string]string{"instance": "10.0.0.7:8080"}, "http://10.0.0.7:8080/healthz", false},
		{"index form", `{{ index .Labels "instance" }}`, `10\.0\.0\.[0-9]+:8080`,
			map[string]string{"instance": "10.0.0.7:8080"}, "10.0.0.7:8080", false},
		{"reReplaceAll drops port", `{{ reReplaceAll ":[0-9]+$" "" .Labels.instance }}:8080`, `10\.0\.0\.[0-9]+:8080`,
			map[string]string{"instance": "10.0.0.7:9100"}, "10.0.0.7:8080", false},
		{"other host", "{{ .Labels.instance }}", `10\.0\.0\.[0-9]+:8080`,
			map[string]string{"instance": "evil.example:80"},
			`target refused: filled value "evil.example:80" does not match allow pattern "10\\.0\\.0\\.[0-9]+:8080"`, true},
		{"anchored at the end", "{{ .Labels.instance }}", `10\.0\.0\.[0-9]+:8080`,
			map[string]string{"instance": "10.0.0.1:8080.evil.example"}, "does not match allow pattern", true},
		{"anchored at the start", "{{ .Labels.instance }}", `10\.0\.0\.[0-9]+:8080`,
			map[string]string{"instance": "evil/10.0.0.1:8080"}, "does not match allow pattern", true},
		{"alternation stays anchored", "{{ .Labels.instance }}", `a|b`,
			map[string]string{"instance": "a; rm -rf /"}, "does not match allow pattern", true},
		{"userinfo trick", "http://{{ .Labels.instance }}/", `http://10\.0\.0\.[0-9]+:8080/`,
			map[string]string{"instance": "10.0.0.1:8080@127.0.0.1:1"}, "does not match allow pattern", true},
		{"shell injection", "{{ .Labels.pod }}", `[a-z0-9-]+`,
			map[string]string{"pod": "x; rm -rf /"}, "does not match allow pattern", true},
		{"command substitution", "{{ .Labels.pod }}", `[a-z0-9-]+`,
			map[string]string{"pod": "$(id)"}, "does not match allow pattern", true},
		{"newline under a lax pattern", "{{ .Labels.pod }}", `(?s).+`,
			map[string]string{"pod": "a\nb"}, "control or invalid character", true},
		{"multiline flag cannot unanchor", "{{ .Labels.pod }}", `(?m)[a-z]+`,
			map[string]string{"pod": "abc\n; id"}, "control or invalid character", true},
		{"invalid utf-8", "{{ .Labels.pod }}", `.+`,
			map[string]string{"pod": "a\xffb"}, "control or invalid character", true},
		{"missing label", "{{ .Labels.instance }}", `.+`, map[string]string{}, `map has no entry for key "instance"`, true},
		{"nil labels", "{{ .Labels.instance }}", `.+`, nil, `map has no entry for key "instance"`, true},
		{"empty label", "{{ .Labels.instance }}", `.+`, map[string]string{"instance": ""}, "empty value", true},
		{"huge label", "{{ .Labels.instance }}", `.+`, map[string]string{"instance": strings.Repeat("a", MaxFilled+1)}, "longer than 4096 bytes", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			allow, err := CompileAllow(c.allow)
			if err != nil {
				t.Fatal(err)
			}
			v, err := Parse("target", c.raw, allow)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Fill(c.labels)
			if c.refused {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Fill = %q, %v; want refusal containing %q", got, err, c.want)
				}
				if got != "" {
					t.Errorf("refused fill returned %q", got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Fill = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}
