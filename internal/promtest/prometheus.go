package promtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/triaged/triaged/internal/testkit"
)

// Options say what the Prometheus of a test scrapes and evaluates.
type Options struct {
	// Targets are the URLs of the metrics endpoints scraped every second, all in job "promtest"
	// (Target.URL, or any /metrics such as triaged's own).
	Targets []string
	// Rules is the text of a rule file (alerting or recording rules, Prometheus' format),
	// evaluated every second; empty for none.
	Rules string
	// Alertmanager, when set, is the base URL Prometheus sends its alerts to, as it would to an
	// Alertmanager: POST {Alertmanager}/api/v2/alerts.
	Alertmanager string
}

// Job is the job label of every target of Options.Targets.
const Job = "promtest"

// startWithin bounds how long a broken start hangs a test; a healthy one takes about 6 s with
// targets (see the package doc) and a fraction of a second without.
const startWithin = 30 * time.Second

// Prometheus is a running Prometheus process, killed when the test ends.
type Prometheus struct {
	t        testing.TB
	url      string
	queryLog string
	api      v1.API
}

// Start starts Prometheus on a free loopback port with a temporary storage directory, a
// generated prometheus.yml (scrape and evaluation interval 1s, the query log on) and opts' rule
// file, and returns once it is ready and has scraped each target once. It fails the test if
// Prometheus does not start, and skips it when Prometheus is not installed outside CI.
func Start(t testing.TB, opts Options) *Prometheus {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	targets, err := scrapeURLs(opts.Targets)
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	cfgFile, err := writeConfig(dir, targets, opts)
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	addr := freeAddr(t)
	p := &Prometheus{t: t, url: "http://" + addr, queryLog: filepath.Join(dir, "query.log")}
	client, err := api.NewClient(api.Config{Address: p.url})
	if err != nil {
		t.Fatalf("promtest: API client: %v", err)
	}
	p.api = v1.NewAPI(client)

	cmd := exec.Command(bin,
		"--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.external-url="+p.url,
		// Prometheus 2.42 finds its Alertmanagers about 5 s after it starts and drops what fires
		// before; resending every second gets a firing alert there a second later, not a minute.
		"--rules.alert.resend-delay=1s",
		"--log.level=warn",
	)
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	ownProcessGroup(cmd)
	begun := time.Now()
	started, exited := make(chan error), make(chan struct{})
	var exitErr error
	go func() {
		// The parent-death signal fires when the thread that started the process ends, not the
		// test binary: keep this goroutine on that thread until Prometheus has exited.
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			exitErr = cmd.Wait()
		}
		close(exited)
	}()
	if err := <-started; err != nil {
		t.Fatalf("promtest: start %s: %v", bin, err)
	}
	// Registered before any wait below can fail the test, so a failed start leaves nothing behind.
	t.Cleanup(func() {
		killGroup(cmd.Process.Pid)
		<-exited
		if t.Failed() {
			t.Logf("Prometheus log:\n%s", out.String())
		}
	})
	alive := func() {
		select {
		case <-exited:
			t.Fatalf("promtest: Prometheus exited: %v\n%s", exitErr, out.String())
		default:
		}
	}

	probe := &http.Client{Timeout: 2 * time.Second} // a hung probe would stop the polling
	testkit.Eventually(t, startWithin, "Prometheus ready at "+p.url, func() bool {
		alive()
		resp, err := probe.Get(p.url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	ready := time.Since(begun)
	if len(targets) == 0 {
		t.Logf("promtest: Prometheus at %s ready after %s", p.url, ready.Round(time.Millisecond))
		return p
	}
	last := ""
	testkit.Eventually(t, startWithin, "Prometheus scraped every target once", func() bool {
		alive()
		state, done := p.scrapeState(targets)
		if state != last { // what it saw, should it never get there
			t.Logf("promtest: targets: %s", state)
			last = state
		}
		return done
	})
	t.Logf("promtest: Prometheus at %s ready after %s, targets scraped after %s",
		p.url, ready.Round(time.Millisecond), time.Since(begun).Round(time.Millisecond))
	return p
}

// URL is Prometheus' base URL (also its external URL, the base of its alerts' generator URLs).
func (p *Prometheus) URL() string { return p.url }

// harnessMark ends every query the harness runs, a PromQL comment that QueryLog recognises and
// strips, so a test can tell triaged's queries from its own.
const harnessMark = "\n# promtest"

// Query runs promql as an instant query now, through client_golang's API client, as triaged does.
func (p *Prometheus) Query(ctx context.Context, promql string) (model.Value, error) {
	v, _, _, err := p.api.Query(ctx, promql+harnessMark, time.Now())
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", promql, err)
	}
	return v, nil
}

// Value runs promql as Query does and returns its one number: a scalar, or a vector of exactly
// one sample.
func (p *Prometheus) Value(ctx context.Context, promql string) (float64, error) {
	v, err := p.Query(ctx, promql)
	if err != nil {
		return 0, err
	}
	switch v := v.(type) {
	case *model.Scalar:
		return float64(v.Value), nil
	case model.Vector:
		if len(v) == 1 {
			return float64(v[0].Value), nil
		}
		return 0, fmt.Errorf("query %q: %d samples, want 1", promql, len(v))
	}
	return 0, fmt.Errorf("query %q: a %s, want one number", promql, v.Type())
}

// scrapeState says whether Prometheus has scraped each of targets successfully, and what it
// knows of them. It asks the targets API rather than running a query, which would land in the
// query log.
func (p *Prometheus) scrapeState(targets []*url.URL) (state string, done bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res, err := p.api.Targets(ctx)
	if err != nil {
		return err.Error(), false
	}
	if len(res.Active) == 0 {
		return "none discovered yet", false
	}
	seen := map[string]bool{}
	var parts []string
	for _, a := range res.Active {
		seen[a.ScrapeURL] = a.Health == v1.HealthGood && !a.LastScrape.IsZero()
		part := a.ScrapeURL + " " + string(a.Health)
		if a.LastError != "" {
			part += ": " + a.LastError
		}
		parts = append(parts, part)
	}
	done = true
	for _, u := range targets {
		done = done && seen[u.String()]
	}
	return strings.Join(parts, "; "), done
}

// config is the part of prometheus.yml the harness writes.
type config struct {
	Global struct {
		ScrapeInterval     string `yaml:"scrape_interval"`
		EvaluationInterval string `yaml:"evaluation_interval"`
		QueryLogFile       string `yaml:"query_log_file"`
	} `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files,omitempty"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs,omitempty"`
	Alerting      *alerting      `yaml:"alerting,omitempty"`
}

type scrapeConfig struct {
	JobName       string         `yaml:"job_name"`
	StaticConfigs []staticConfig `yaml:"static_configs"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

type alerting struct {
	Alertmanagers []alertmanager `yaml:"alertmanagers"`
}

type alertmanager struct {
	APIVersion    string         `yaml:"api_version"`
	Scheme        string         `yaml:"scheme"`
	PathPrefix    string         `yaml:"path_prefix,omitempty"`
	StaticConfigs []staticConfig `yaml:"static_configs"`
}

// scrapeURLs checks the targets' URLs and returns each as Prometheus will name it in its
// targets API: scheme, host and path (/metrics when empty), without a query or fragment.
func scrapeURLs(targets []string) ([]*url.URL, error) {
	var out []*url.URL
	for _, raw := range targets {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("target %q: not an http(s) URL", raw)
		}
		clean := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
		if clean.Path == "" {
			clean.Path = "/metrics"
		}
		out = append(out, clean)
	}
	return out, nil
}

// writeConfig writes prometheus.yml (and the rule file) into dir and returns its path.
func writeConfig(dir string, targets []*url.URL, opts Options) (string, error) {
	var c config
	c.Global.ScrapeInterval, c.Global.EvaluationInterval = "1s", "1s"
	c.Global.QueryLogFile = filepath.Join(dir, "query.log")
	if len(targets) > 0 {
		sc := scrapeConfig{JobName: Job}
		for _, u := range targets {
			// One static config per target, so each keeps its own scheme and path.
			sc.StaticConfigs = append(sc.StaticConfigs, staticConfig{
				Targets: []string{u.Host},
				Labels:  map[string]string{"__scheme__": u.Scheme, "__metrics_path__": u.Path},
			})
		}
		c.ScrapeConfigs = []scrapeConfig{sc}
	}
	if opts.Rules != "" {
		rules := filepath.Join(dir, "rules.yml")
		if err := os.WriteFile(rules, []byte(opts.Rules), 0o644); err != nil {
			return "", err
		}
		c.RuleFiles = []string{rules}
	}
	if opts.Alertmanager != "" {
		u, err := url.Parse(opts.Alertmanager)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("alertmanager %q: not an http(s) URL", opts.Alertmanager)
		}
		c.Alerting = &alerting{Alertmanagers: []alertmanager{{
			APIVersion: "v2", Scheme: u.Scheme, PathPrefix: u.Path,
			StaticConfigs: []staticConfig{{Targets: []string{u.Host}}},
		}}}
	}
	b, err := yaml.Marshal(&c)
	if err != nil {
		return "", err
	}
	file := filepath.Join(dir, "prometheus.yml")
	return file, os.WriteFile(file, b, 0o644)
}

// binary finds Debian's Prometheus, failing in CI (which installs it) and skipping elsewhere.
func binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("prometheus")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Prometheus not installed; .ci/run installs Debian's prometheus")
	}
	t.Skip("Prometheus not installed (apt-get install prometheus)")
	return ""
}

// freeAddr picks a free loopback port. Another process could take it before Prometheus binds
// it; Start then fails with Prometheus' own "address already in use", never silently.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("promtest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}
