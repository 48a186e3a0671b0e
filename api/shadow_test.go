package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/template"

	"github.com/triaged/triaged"
	"github.com/triaged/triaged/api"
	"github.com/triaged/triaged/rules"
)

// fedShadow is the shadow test candidate after the in-force rules decided HighLatency in prod
// three times (P3, the candidate P2) and in staging once (both P3).
func fedShadow(t *testing.T) *rules.Shadow {
	t.Helper()
	inForce, err := rules.LoadFiles("../rules/testdata/shadow/in-force.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := rules.NewShadow([]string{"../rules/testdata/shadow/candidate.rules.yml"}, rules.ShadowOptions{Now: func() time.Time { return base }})
	if err != nil {
		t.Fatal(err)
	}
	for i, env := range []string{"prod", "staging", "prod", "prod"} {
		a := &triaged.Alert{Alert: template.Alert{Status: triaged.StatusFiring, StartsAt: base,
			Labels: template.KV{"alertname": "HighLatency", "env": env, "n": string(rune('1' + i))}}}
		now := at(time.Duration(i) * time.Minute)
		s.CompareClassify(inForce.Classify(a, triaged.Service{Name: "checkout"}, now), a, triaged.Service{Name: "checkout"}, now)
	}
	return s
}

func TestShadowEndpoint(t *testing.T) {
	srv := httptest.NewServer(api.NewShadowHandler(fedShadow(t), nil))
	defer srv.Close()
	none := httptest.NewServer(api.NewShadowHandler(nil, nil))
	defer none.Close()

	get := func(method, url string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, body := get(http.MethodGet, srv.URL+"/api/v1/rules/shadow")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var r api.ShadowResponse
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != "success" || r.Disagreements != 3 || r.Evaluations[rules.StageClassify] != 4 || len(r.Latest) != 3 || r.Version == "" {
		t.Errorf("answer %s", body)
	}
	if len(r.Transitions) != 1 || r.Transitions[0] != (rules.ShadowTransition{From: "P3", To: "P2", Count: 3}) {
		t.Errorf("transitions %v", r.Transitions)
	}
	if r.Latest[0].Labels["n"] != "4" || r.Latest[2].Labels["n"] != "1" {
		t.Errorf("latest not newest first: %v", r.Latest)
	}

	code, body = get(http.MethodGet, srv.URL+"/api/v1/rules/shadow?limit=1")
	if err := json.Unmarshal([]byte(body), &r); err != nil || code != http.StatusOK || len(r.Latest) != 1 || r.Latest[0].Labels["n"] != "4" || r.Disagreements != 3 {
		t.Errorf("limit=1: %d %s", code, body)
	}

	for _, c := range []struct {
		method, url string
		code        int
		msg         string
	}{
		{http.MethodGet, srv.URL + "/api/v1/rules/shadow?limit=0", 400, `parameter limit: \"0\" is not a positive integer`},
		{http.MethodGet, srv.URL + "/api/v1/rules/shadow?limit=x", 400, `parameter limit: \"x\" is not a positive integer`},
		{http.MethodGet, srv.URL + "/api/v1/rules/shadow?limit=1&limit=2", 400, "parameter limit: given 2 times"},
		{http.MethodGet, srv.URL + "/api/v1/rules/shadow?since=1h", 400, "parameter since: unknown parameter: want limit"},
		{http.MethodPost, srv.URL + "/api/v1/rules/shadow", 405, "method POST not allowed"},
		{http.MethodGet, none.URL + "/api/v1/rules/shadow", 404, "no shadow rules run: rules.shadow_files is empty"},
	} {
		code, body := get(c.method, c.url)
		if code != c.code || !strings.Contains(body, `"status":"error"`) || !strings.Contains(body, c.msg) {
			t.Errorf("%s %s: %d %s, want %d with %q", c.method, c.url, code, body, c.code, c.msg)
		}
	}
}
