package examples_test

// The deployment examples (kubernetes/, systemd/) are checked offline, as no cluster and no
// systemd runs here: every Kubernetes manifest is decoded strictly (an unknown field is an error)
// into the API types the cluster will decode it into, the pieces are checked to fit together
// (selectors, ports, volumes, ConfigMaps, probes), the ConfigMaps' config and rules go through
// triaged's own loaders, and every flag given to the daemon must be one cmd/triaged defines.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/triaged/triaged/app"
	"github.com/triaged/triaged/load"
	"github.com/triaged/triaged/rules"
)

// daemonFlags reads the flag names cmd/triaged defines from its source: the first string literal
// of each fs.XxxVar / fs.Func / fs.Var / fs.Bool call. Parsing the source instead of building the
// daemon keeps the test fast; the sanity check on known flags keeps it from passing on nothing.
func daemonFlags(t *testing.T) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../cmd/triaged/main.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if recv, ok := sel.X.(*ast.Ident); !ok || recv.Name != "fs" {
			return true
		}
		for _, arg := range call.Args {
			if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				name, err := strconv.Unquote(lit.Value)
				if err == nil && !strings.ContainsAny(name, " \n") {
					flags[name] = true
				}
				break
			}
		}
		return true
	})
	for _, want := range []string{"config.file", "nats.url", "web.listen-address", "storage.path", "web.auth-token-file"} {
		if !flags[want] {
			t.Fatalf("found no flag %q in cmd/triaged/main.go (found %v): the flag scan is broken", want, flags)
		}
	}
	return flags
}

// checkFlags requires every argument to be --NAME=VALUE (or a bare --NAME) with a flag the
// daemon defines, and returns the values by name.
func checkFlags(t *testing.T, where string, args []string) map[string][]string {
	t.Helper()
	known := daemonFlags(t)
	values := map[string][]string{}
	for _, arg := range args {
		name, value, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !strings.HasPrefix(arg, "--") || !known[name] {
			t.Errorf("%s: argument %q is no flag of cmd/triaged", where, arg)
			continue
		}
		values[name] = append(values[name], value)
	}
	return values
}

// strict decodes YAML into v, refusing unknown fields and duplicate keys, as the API server
// refuses them with fieldValidation=Strict.
func strict(t *testing.T, where string, data []byte, v any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
}

type kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace"`
	Labels     []struct {
		Pairs map[string]string `json:"pairs"`
	} `json:"labels"`
	Resources          []string `json:"resources"`
	ConfigMapGenerator []struct {
		Name    string   `json:"name"`
		Files   []string `json:"files"`
		Options struct {
			DisableNameSuffixHash bool `json:"disableNameSuffixHash"`
		} `json:"options"`
	} `json:"configMapGenerator"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// serviceMonitor is the part of monitoring.coreos.com/v1 ServiceMonitor the example uses; a
// field outside it fails the strict decoding, so a typo cannot pass.
type serviceMonitor struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        metav1.ObjectMeta `json:"metadata"`
	Spec            struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// natsValues is the part of the NATS Helm chart's values the example sets.
type natsValues struct {
	Config struct {
		Cluster struct {
			Enabled  bool `json:"enabled"`
			Replicas int  `json:"replicas"`
		} `json:"cluster"`
		JetStream struct {
			Enabled   bool `json:"enabled"`
			FileStore struct {
				PVC struct {
					Size string `json:"size"`
				} `json:"pvc"`
			} `json:"fileStore"`
			MemoryStore struct {
				Enabled bool `json:"enabled"`
			} `json:"memoryStore"`
		} `json:"jetstream"`
	} `json:"config"`
	PodTemplate struct {
		TopologySpreadConstraints map[string]struct {
			MaxSkew           int    `json:"maxSkew"`
			WhenUnsatisfiable string `json:"whenUnsatisfiable"`
		} `json:"topologySpreadConstraints"`
	} `json:"podTemplate"`
	Container struct {
		Merge struct {
			Resources corev1.ResourceRequirements `json:"resources"`
		} `json:"merge"`
	} `json:"container"`
	PodDisruptionBudget struct {
		Enabled bool `json:"enabled"`
	} `json:"podDisruptionBudget"`
}

// manifests holds the decoded resources of the kustomization.
type manifests struct {
	deployment *appsv1.Deployment
	pdb        *policyv1.PodDisruptionBudget
	service    *corev1.Service
	secret     *corev1.Secret
	namespace  *corev1.Namespace
	monitor    *serviceMonitor
}

func (m *manifests) decode(t *testing.T, where string, doc []byte) {
	t.Helper()
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var into any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		m.deployment = &appsv1.Deployment{}
		into = m.deployment
	case "policy/v1 PodDisruptionBudget":
		m.pdb = &policyv1.PodDisruptionBudget{}
		into = m.pdb
	case "v1 Service":
		m.service = &corev1.Service{}
		into = m.service
	case "v1 Secret":
		m.secret = &corev1.Secret{}
		into = m.secret
	case "v1 Namespace":
		m.namespace = &corev1.Namespace{}
		into = m.namespace
	case "monitoring.coreos.com/v1 ServiceMonitor":
		m.monitor = &serviceMonitor{}
		into = m.monitor
	default:
		t.Fatalf("%s: no check for %s %s; add it to manifests.decode", where, tm.APIVersion, tm.Kind)
	}
	strict(t, where, doc, into)
}

const k8sDir = "kubernetes"

func loadKustomization(t *testing.T) (*kustomization, *manifests) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	strict(t, "kubernetes/kustomization.yaml", data, &k)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Fatalf("kustomization.yaml: apiVersion %q kind %q", k.APIVersion, k.Kind)
	}
	m := &manifests{}
	for _, r := range k.Resources {
		data, err := os.ReadFile(filepath.Join(k8sDir, r))
		if err != nil {
			t.Fatalf("kustomization.yaml: resource %q: %v", r, err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---")) {
			if len(bytes.TrimSpace(doc)) > 0 {
				m.decode(t, fmt.Sprintf("kubernetes/%s (document %d)", r, i+1), doc)
			}
		}
	}
	for _, g := range k.ConfigMapGenerator {
		if !g.Options.DisableNameSuffixHash {
			t.Errorf("configMapGenerator %s: a hashed name makes every edit a new ConfigMap and a rollout; hot reload of the rules needs the ConfigMap updated in place", g.Name)
		}
		for _, f := range g.Files {
			if _, err := os.Stat(filepath.Join(k8sDir, f)); err != nil {
				t.Errorf("configMapGenerator %s: %v", g.Name, err)
			}
		}
	}
	if m.deployment == nil || m.pdb == nil || m.service == nil || m.secret == nil || m.monitor == nil {
		t.Fatalf("kustomization.yaml lacks a resource: %+v", m)
	}
	return &k, m
}

func TestKubernetesManifests(t *testing.T) {
	k, m := loadKustomization(t)
	d := m.deployment
	pod := d.Spec.Template
	podLabels := labels.Set(pod.Labels)

	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("deployment: replicas %v, want at least 2", d.Spec.Replicas)
	}
	selects := func(what string, sel *metav1.LabelSelector) {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil || s.Empty() || !s.Matches(podLabels) {
			t.Errorf("%s: selector %v does not select the pods (labels %v): %v", what, sel, pod.Labels, err)
		}
	}
	selects("deployment", d.Spec.Selector)
	selects("poddisruptionbudget", m.pdb.Spec.Selector)
	selects("servicemonitor", &m.monitor.Spec.Selector)
	if s := labels.SelectorFromSet(m.service.Spec.Selector); len(m.service.Spec.Selector) == 0 || !s.Matches(podLabels) {
		t.Errorf("service: selector %v does not select the pods (labels %v)", m.service.Spec.Selector, pod.Labels)
	}
	if !labels.SelectorFromSet(m.monitor.Spec.Selector.MatchLabels).Matches(labels.Set(m.service.Labels)) {
		t.Errorf("servicemonitor: selector %v does not select the service (labels %v)", m.monitor.Spec.Selector, m.service.Labels)
	}
	if m.pdb.Spec.MaxUnavailable == nil && m.pdb.Spec.MinAvailable == nil {
		t.Error("poddisruptionbudget: neither maxUnavailable nor minAvailable")
	}

	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("deployment: %d containers, want triaged alone", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if !slices.ContainsFunc(k.Images, func(i struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	}) bool {
		return i.Name == c.Image
	}) {
		t.Errorf("container image %q has no images: entry in kustomization.yaml to set it", c.Image)
	}
	if len(c.Command) > 0 {
		t.Errorf("container command %v replaces the image's entrypoint, /usr/local/bin/triaged", c.Command)
	}
	flags := checkFlags(t, "deployment args", c.Args)

	// Ports: the listen address, the named container port, the Service and the ServiceMonitor agree.
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	listen := flags["web.listen-address"]
	if len(listen) != 1 || !strings.HasPrefix(listen[0], ":") {
		t.Fatalf("--web.listen-address %v: want one, on all interfaces (:PORT), as a pod needs", listen)
	}
	if want := strings.TrimPrefix(listen[0], ":"); strconv.Itoa(int(ports["http"])) != want {
		t.Errorf("container port http is %d, the daemon listens on %s", ports["http"], want)
	}
	if len(flags["web.auth-token-file"]) == 0 && len(flags["web.allow-unauthenticated"]) == 0 && len(flags["web.config.file"]) == 0 {
		t.Error("no authentication flag: the daemon refuses to start on :PORT without one")
	}
	for _, sp := range m.service.Spec.Ports {
		if _, ok := ports[sp.TargetPort.String()]; !ok && int(sp.TargetPort.IntVal) != int(ports["http"]) {
			t.Errorf("service port %s: targetPort %s is no container port", sp.Name, sp.TargetPort.String())
		}
	}
	for _, ep := range m.monitor.Spec.Endpoints {
		if !slices.ContainsFunc(m.service.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) || ep.Path != "/metrics" {
			t.Errorf("servicemonitor endpoint %+v: want a service port name and /metrics", ep)
		}
	}

	// Probes on the daemon's health endpoints, on its port.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"livenessProbe", c.LivenessProbe, "/-/healthy"},
		{"readinessProbe", c.ReadinessProbe, "/-/ready"},
		{"startupProbe", c.StartupProbe, "/-/healthy"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe on %s", p.name, p.path)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s: %s on port %s, want %s on port http", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}

	// Resources from the measured RSS, and a hardened pod.
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %v: want cpu and memory requests and a memory limit", c.Resources)
	}
	psc, sc := pod.Spec.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot:
		t.Error("pod securityContext: want runAsNonRoot")
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("pod securityContext: want seccompProfile RuntimeDefault")
	case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("container securityContext: want readOnlyRootFilesystem")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("container securityContext: want allowPrivilegeEscalation false")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
		t.Error("container securityContext: want capabilities drop [ALL]")
	}
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		t.Error("no topologySpreadConstraints: both replicas may land on one node")
	}
	// Draining: the grace period covers the preStop pause and the daemon's own shutdown timeout.
	shutdown := 30.0 // the flag's default
	if v := flags["shutdown.timeout"]; len(v) == 1 {
		dur, err := time.ParseDuration(v[0])
		if err != nil {
			t.Fatalf("--shutdown.timeout=%s: %v", v[0], err)
		}
		shutdown = dur.Seconds()
	}
	preStop := 0.0
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		preStop = float64(c.Lifecycle.PreStop.Sleep.Seconds)
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || float64(*g) <= preStop+shutdown {
		t.Errorf("terminationGracePeriodSeconds: want more than preStop %gs + --shutdown.timeout %gs", preStop, shutdown)
	}

	checkVolumes(t, k, m, c, flags)
	checkNATS(t, k.Namespace, flags)
}

// checkVolumes follows every path the daemon is given to a mount, its volume and the ConfigMap
// or Secret behind it, then loads the mounted config and rules with triaged's own loaders.
func checkVolumes(t *testing.T, k *kustomization, m *manifests, c corev1.Container, flags map[string][]string) {
	t.Helper()
	volumes := map[string]corev1.Volume{}
	for _, v := range m.deployment.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	generated := map[string][]string{} // ConfigMap name → its files in the repo
	for _, g := range k.ConfigMapGenerator {
		generated[g.Name] = g.Files
	}
	// source finds the repo file (ConfigMap) or key (Secret) a path in the container reads.
	source := func(path string) (repoFile string, secretKey string) {
		for _, vm := range c.VolumeMounts {
			rel, err := filepath.Rel(vm.MountPath, path)
			if err != nil || strings.HasPrefix(rel, "..") || strings.Contains(rel, "/") {
				continue
			}
			v, ok := volumes[vm.Name]
			if !ok {
				t.Errorf("volumeMount %s: no such volume", vm.Name)
				return "", ""
			}
			switch {
			case v.ConfigMap != nil:
				files, ok := generated[v.ConfigMap.Name]
				if !ok {
					t.Errorf("volume %s: ConfigMap %s is not generated by kustomization.yaml", v.Name, v.ConfigMap.Name)
				}
				for _, f := range files {
					if filepath.Base(f) == rel {
						return filepath.Join(k8sDir, f), ""
					}
				}
				t.Errorf("%s: ConfigMap %s has no key %s", path, v.ConfigMap.Name, rel)
			case v.Secret != nil:
				if v.Secret.SecretName != m.secret.Name {
					t.Errorf("volume %s: Secret %s, the kustomization's is %s", v.Name, v.Secret.SecretName, m.secret.Name)
				}
				if _, ok := m.secret.StringData[rel]; !ok {
					t.Errorf("%s: Secret %s has no key %s", path, m.secret.Name, rel)
				}
				return "", rel
			}
			return "", ""
		}
		t.Errorf("%s is on no volume mount", path)
		return "", ""
	}
	for _, tok := range flags["web.auth-token-file"] {
		source(tok)
	}
	if len(flags["config.file"]) != 1 {
		t.Fatalf("--config.file %v: want one", flags["config.file"])
	}
	configPath := flags["config.file"][0]
	repoConfig, _ := source(configPath)
	if repoConfig == "" {
		return
	}
	parts, err := load.File(repoConfig)
	if err != nil {
		t.Fatalf("the ConfigMap's config does not load: %v", err)
	}
	if parts.Config.NATS.Replicas != 3 {
		t.Errorf("%s: nats.replicas %d, want 3 on the three-node cluster", repoConfig, parts.Config.NATS.Replicas)
	}
	// The rule files, as the container sees them, must be in the rules ConfigMap: the loader
	// above read them from the repo's layout, which mirrors the mounts only if this holds.
	if len(parts.Config.Rules.Files) == 0 {
		t.Error("the config names no rule file: the rules ConfigMap is unused")
	}
	for _, f := range parts.Config.Rules.Files {
		rel, err := filepath.Rel(filepath.Dir(repoConfig), f)
		if err != nil {
			t.Fatal(err)
		}
		inPod := filepath.Join(filepath.Dir(configPath), rel)
		repoRules, _ := source(inPod)
		if repoRules == "" {
			continue
		}
		if _, err := rules.LoadFiles(repoRules); err != nil {
			t.Errorf("the ConfigMap's rules do not load: %v", err)
		}
	}
}

// checkNATS holds --nats.url to the pods the NATS chart's values make: release "nats", pods
// nats-0..N-1 behind the headless service nats-headless, in the kustomization's namespace.
func checkNATS(t *testing.T, namespace string, flags map[string][]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(k8sDir, "nats", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v natsValues
	strict(t, "kubernetes/nats/values.yaml", data, &v)
	if !v.Config.Cluster.Enabled || v.Config.Cluster.Replicas != 3 || !v.Config.JetStream.Enabled || v.Config.JetStream.FileStore.PVC.Size == "" {
		t.Errorf("nats/values.yaml: want a 3-node cluster with JetStream on file storage: %+v", v.Config)
	}
	urls := flags["nats.url"]
	if len(urls) != 1 {
		t.Fatalf("--nats.url %v: want one, listing the nodes", urls)
	}
	var want []string
	for i := range v.Config.Cluster.Replicas {
		want = append(want, fmt.Sprintf("nats://nats-%d.nats-headless.%s.svc:4222", i, namespace))
	}
	if got := strings.Split(urls[0], ","); !slices.Equal(got, want) {
		t.Errorf("--nats.url lists %v, the chart's pods are %v", got, want)
	}
}

// unitExec reads the ExecStart= of a unit file, joining continued lines.
func unitExec(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var execStart string
	s := bufio.NewScanner(f)
	for cont := false; s.Scan(); {
		line := strings.TrimSpace(s.Text())
		if cont || strings.HasPrefix(line, "ExecStart=") {
			execStart += " " + strings.TrimSuffix(strings.TrimPrefix(line, "ExecStart="), "\\")
			cont = strings.HasSuffix(line, "\\")
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(execStart)
	if len(fields) == 0 {
		t.Fatalf("%s: no ExecStart=", path)
	}
	return fields
}

const unitFile = "systemd/triaged.service"

func TestSystemdUnitFlags(t *testing.T) {
	argv := unitExec(t, unitFile)
	if filepath.Base(argv[0]) != "triaged" {
		t.Errorf("ExecStart runs %s, not triaged", argv[0])
	}
	flags := checkFlags(t, unitFile+" ExecStart", argv[1:])
	if v := flags["storage.path"]; len(v) != 1 || v[0] != "${STATE_DIRECTORY}" {
		t.Errorf("--storage.path %v: want the StateDirectory, ${STATE_DIRECTORY}", v)
	}
}

// TestSystemdAnalyzeVerify runs `systemd-analyze verify` on a copy of the unit whose ExecStart
// names an executable that exists here (verify refuses a missing one), with the same flags.
func TestSystemdAnalyzeVerify(t *testing.T) {
	analyze := tool(t, "systemd-analyze")
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	orig := unitExec(t, unitFile)[0]
	copied := filepath.Join(t.TempDir(), "triaged.service")
	if err := os.WriteFile(copied, bytes.Replace(data, []byte("ExecStart="+orig), []byte("ExecStart="+self), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", copied).CombinedOutput()
	// An unknown key or a bad value is only a warning (exit 0) naming the unit: both fail here.
	if err != nil || bytes.Contains(out, []byte("triaged.service")) {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}

// TestKubernetesSecretPlaceholderRefused holds secret.yaml's promise: its placeholder token is
// refused at start, so the example cannot run with a token everyone knows.
func TestKubernetesSecretPlaceholderRefused(t *testing.T) {
	_, m := loadKustomization(t)
	dir := t.TempDir()
	for key, value := range m.secret.StringData {
		file := filepath.Join(dir, key)
		if err := os.WriteFile(file, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// Cancelled before the start: the token files are read before anything waits, so a
		// placeholder is refused, and an accepted token ends in the cancellation instead of a
		// wait for the NATS that is not there.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		a, err := app.New(ctx, app.Options{
			ListenAddress:  "127.0.0.1:0",
			NATSURL:        "nats://127.0.0.1:1",
			AuthTokenFiles: []string{file},
			Logger:         slog.New(slog.DiscardHandler),
		})
		if err == nil {
			_ = a.Run(ctx)
			t.Fatalf("secret.yaml: the daemon starts with the placeholder token of key %s", key)
		}
		if !strings.Contains(err.Error(), file) {
			t.Errorf("the refusal does not name the token file %s: %v", file, err)
		}
	}
}
