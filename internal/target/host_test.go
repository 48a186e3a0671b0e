package target

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	cases := []struct {
		url, err string // err "" means accepted
	}{
		{"http://10.0.0.1:8080/healthz", ""},
		{"https://checkout-7d9f.shop.svc.cluster.local:8443/x?y=%41#z@w", ""},
		{"http://[fd00::1]:8080/", ""},
		{"http://my_host.internal/", ""},
		{"http://host.internal./", ""},

		{"http://１２７.０.０.１:8080/", `host "１２７.０.０.１" is not plain ASCII`},
		{"http://bücher.example/", `is not plain ASCII`},
		{"http://xn--bcher-kva.example/", ""}, // punycode is ASCII and means what it says
		{"http://10.0.0.1:8080@127.0.0.1:9/", `has user info before its host`},
		{"http://user:pw@127.0.0.1/", `"http://user:xxxxx@127.0.0.1/" has user info`},
		{"http://%E2%91%A0.example/", `escaped or ambiguous host`},
		{"http://[fe80::1%25eth0]:80/", `escaped or ambiguous host`},
		{"http://2130706433:80/", `host "2130706433" is a number but not a dotted-quad`},
		{"http://0x7f.1/", `is a number but not a dotted-quad`},
		{"http://017.0.0.1/", `is a number but not a dotted-quad`},
		{"http://127.1/", `is a number but not a dotted-quad`},
		{"http://a..b/", `has an empty label`},
		{"http:///x", `no host`},
		{"http://a b/", `does not parse`},
	}
	for _, c := range cases {
		err := CheckURL(c.url)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("CheckURL(%q) = %v, want accepted", c.url, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("CheckURL(%q) = %v, want %q", c.url, err, c.err)
		case err != nil && (!errors.Is(err, ErrRefused) || !strings.HasPrefix(err.Error(), "target refused: ")):
			t.Errorf("CheckURL(%q) = %v, not a refusal", c.url, err)
		}
	}
}

func TestCheckHost(t *testing.T) {
	for _, ok := range []string{"db.internal", "10.0.0.5", "::1", "fd00::1", "a-b_c.d9", "host."} {
		if err := CheckHost(ok); err != nil {
			t.Errorf("CheckHost(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "１０.0.0.1", "10.0.0.１", "fe80::1%eth0", "::ffff:1.2.3.4.5", "::ffff:127.0.0.1", "::ffff:7f00:1", "1.2.3", "0x0a.0.0.1", "10.0.0.01", "a/b", "a b", "a\u200bb", "..", "4294967295"} {
		if err := CheckHost(bad); err == nil {
			t.Errorf("CheckHost(%q) accepted", bad)
		}
	}
}
