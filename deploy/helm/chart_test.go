// Package helm tests the fedsaga Helm chart (deploy/helm/fedsaga): it
// renders the chart with the real helm binary and decodes every object
// strictly against the Kubernetes API types, then checks what fedsaga needs
// of them.
package helm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/api"
)

const chart = "fedsaga"

// helmBin is the helm binary: FEDSAGA_HELM_BIN, which scripts/test.sh sets
// to the one it builds and caches.
func helmBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("FEDSAGA_HELM_BIN")
	if bin == "" {
		t.Fatal("FEDSAGA_HELM_BIN is not set: run scripts/test.sh (make test), which builds helm once and sets it, " +
			"or: source scripts/lib.sh && ensure_helm && export FEDSAGA_HELM_BIN=$HELM_BIN")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("FEDSAGA_HELM_BIN: %v", err)
	}
	return bin
}

// helm runs helm with args in this directory and returns its stdout.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// A rendering of the chart: the values files and --set flags given to helm.
type rendering struct {
	name   string
	files  []string
	set    []string
	config configCheck
}

// configCheck is what a rendering's fedsaga.toml must say.
type configCheck struct {
	natsAuth string
}

// The values files the chart ships, and every optional part switched on.
var renderings = []rendering{
	{name: "values.yaml", config: configCheck{natsAuth: config.AuthNone}},
	{name: "values-local.yaml", files: []string{"values-local.yaml"}, config: configCheck{natsAuth: config.AuthNone}},
	{name: "values-temporal-cloud.yaml", files: []string{"values-temporal-cloud.yaml"}, config: configCheck{natsAuth: config.AuthNone}},
	{name: "everything on", files: []string{"values-local.yaml"}, set: []string{
		"worker.autoscaling.enabled=false", "worker.keda.enabled=true",
		"serviceMonitor.enabled=true", "prometheusRule.enabled=true", "grafanaDashboard.enabled=true",
		"secrets.natsTLS.name=nats-tls", "secrets.natsTLS.ca=ca.crt", "secrets.natsTLS.cert=tls.crt", "secrets.natsTLS.key=tls.key",
		"config.nats.auth.type=credentials", "secrets.natsCredentials.name=nats-user",
		"worker.stopTimeoutSeconds=120", "worker.port=9100", "api.port=8081",
		"config.databases.orders.pool_size=20",
	}, config: configCheck{natsAuth: config.AuthCredentials}},
	{name: "temporal mTLS, API key and KEDA", set: []string{
		"worker.autoscaling.enabled=false", "worker.keda.enabled=true",
		"temporal.apiKey=true", "temporal.tls.enabled=true", "temporal.tls.serverName=temporal.example.com",
		"secrets.temporalTLS.name=temporal-client", "secrets.temporalTLS.ca=ca.crt",
	}, config: configCheck{natsAuth: config.AuthNone}},
	{name: "nats token", set: []string{"config.nats.auth.type=token"}, config: configCheck{natsAuth: config.AuthToken}},
	{name: "nats user and password", set: []string{"config.nats.auth.type=user_password", "config.nats.auth.user=fedsaga"},
		config: configCheck{natsAuth: config.AuthUserPassword}},
	{name: "nats nkey", set: []string{"config.nats.auth.type=nkey"}, config: configCheck{natsAuth: config.AuthNKey}},
	{name: "read API mutual TLS, no tokens, codec", set: []string{
		"api.tls.secretName=read-api-tls", "api.tls.clientCAKey=ca.crt", "secrets.readAPITokens.key=",
		"codec.enabled=true", "codec.secret=codec-keys", "codec.activeKey=k2", "codec.keys.k1=old-key", "codec.keys.k2=new-key",
		"codec.customerIdAttribute=hash", "codec.customerIdKey=customer-id",
	}, config: configCheck{natsAuth: config.AuthNone}},
	{name: "read API without authentication", set: []string{"api.auth=none", "secrets.readAPITokens.key="},
		config: configCheck{natsAuth: config.AuthNone}},
}

// args are the arguments of helm cmd (template or lint) for r.
func (r rendering) args(cmd string) []string {
	args := []string{cmd, chart}
	if cmd == "template" {
		args = []string{cmd, "fedsaga", chart}
	}
	for _, f := range r.files {
		args = append(args, "-f", filepath.Join(chart, f))
	}
	for _, s := range r.set {
		args = append(args, "--set", s)
	}
	return args
}

func TestLint(t *testing.T) {
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			if _, err := helm(t, append(r.args("lint"), "--strict")...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// objects is one rendering of the chart, decoded.
type objects struct {
	deployments   map[string]*appsv1.Deployment
	jobs          []*batchv1.Job
	services      []*corev1.Service
	configMaps    map[string]*corev1.ConfigMap
	secrets       []*corev1.Secret
	pdbs          []*policyv1.PodDisruptionBudget
	hpas          []*autoscalingv2.HorizontalPodAutoscaler
	scaledObjects []*ScaledObject
	triggerAuths  []*TriggerAuthentication
	monitors      []*ServiceMonitor
	rules         []*PrometheusRule
}

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, batchv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// decodeAll decodes every YAML document of out strictly: an unknown or
// duplicate field, or a kind the chart is not known to make, fails.
func decodeAll(t *testing.T, out string) *objects {
	t.Helper()
	ser := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	objs := &objects{deployments: map[string]*appsv1.Deployment{}, configMaps: map[string]*corev1.ConfigMap{}}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	for i := 0; ; i++ {
		b, err := docs.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		doc := string(b)
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		if meta.Kind == "" {
			continue // comments only
		}
		switch meta.APIVersion + "/" + meta.Kind {
		case "keda.sh/v1alpha1/ScaledObject":
			objs.scaledObjects = append(objs.scaledObjects, strict[ScaledObject](t, doc))
			continue
		case "keda.sh/v1alpha1/TriggerAuthentication":
			objs.triggerAuths = append(objs.triggerAuths, strict[TriggerAuthentication](t, doc))
			continue
		case "monitoring.coreos.com/v1/ServiceMonitor":
			objs.monitors = append(objs.monitors, strict[ServiceMonitor](t, doc))
			continue
		case "monitoring.coreos.com/v1/PrometheusRule":
			objs.rules = append(objs.rules, strict[PrometheusRule](t, doc))
			continue
		}
		obj, gvk, err := ser.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("document %d (%s %s): %v\n%s", i, meta.APIVersion, meta.Kind, err, doc)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			objs.deployments[o.Name] = o
		case *batchv1.Job:
			objs.jobs = append(objs.jobs, o)
		case *corev1.Service:
			objs.services = append(objs.services, o)
		case *corev1.ConfigMap:
			objs.configMaps[o.Name] = o
		case *corev1.Secret:
			objs.secrets = append(objs.secrets, o)
		case *policyv1.PodDisruptionBudget:
			objs.pdbs = append(objs.pdbs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			objs.hpas = append(objs.hpas, o)
		default:
			t.Fatalf("document %d: the chart makes a %s the test does not check", i, gvk)
		}
	}
	return objs
}

// strict decodes doc into a T, failing on any field T does not have.
func strict[T any](t *testing.T, doc string) *T {
	t.Helper()
	v := new(T)
	if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
		t.Fatalf("%T: %v\n%s", v, err, doc)
	}
	return v
}

func render(t *testing.T, r rendering) *objects {
	t.Helper()
	out, err := helm(t, r.args("template")...)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAll(t, out)
}

func TestRenderings(t *testing.T) {
	for _, r := range renderings {
		t.Run(r.name, func(t *testing.T) {
			objs := render(t, r)
			worker := objs.deployments["fedsaga-worker"]
			api := objs.deployments["fedsaga-api"]
			if worker == nil || api == nil || len(objs.jobs) != 1 {
				t.Fatalf("want the worker and api Deployments and the migrate Job; got deployments %v, %d jobs",
					slices.Sorted(mapsKeys(objs.deployments)), len(objs.jobs))
			}
			for _, d := range objs.deployments {
				checkPodSecurity(t, "Deployment "+d.Name, &d.Spec.Template.Spec)
			}
			migrate := objs.jobs[0]
			checkPodSecurity(t, "Job "+migrate.Name, &migrate.Spec.Template.Spec)
			checkMigrate(t, objs, migrate)
			checkScaling(t, objs)
			checkNoSecretInConfigMaps(t, objs)

			checkServiceMonitors(t, objs)
			checkMonitoring(t, objs, slices.Contains(r.set, "prometheusRule.enabled=true"))

			cfg := loadConfig(t, objs, worker, r.config)
			if cfg == nil {
				return // a key the configuration does not know yet
			}
			checkWorker(t, worker, cfg)
			checkFiles(t, worker, cfg)
			// The read API's own environment: its tokens are its alone.
			if cfg = loadConfig(t, objs, api, r.config); cfg == nil {
				return
			}
			checkAPI(t, api, objs, cfg)
			checkFiles(t, api, cfg)
		})
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkPodSecurity: non-root, read-only root, no escalation, no
// capabilities, seccomp RuntimeDefault, resources, on every container.
func checkPodSecurity(t *testing.T, what string, pod *corev1.PodSpec) {
	t.Helper()
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext %+v: want runAsNonRoot and seccompProfile RuntimeDefault", what, psc)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("%s: mounts a service account token; fedsaga calls no Kubernetes API", what)
	}
	if len(pod.InitContainers) > 0 {
		t.Errorf("%s: init containers are not checked; check them here", what)
	}
	for _, c := range pod.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s container %s: no securityContext", what, c.Name)
			continue
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			t.Errorf("%s container %s: runAsNonRoot not true", what, c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s container %s: readOnlyRootFilesystem not true", what, c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s container %s: allowPrivilegeEscalation not false", what, c.Name)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s container %s: privileged", what, c.Name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s container %s: capabilities %+v, want drop [ALL] and no add", what, c.Name, sc.Capabilities)
		case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("%s container %s: seccompProfile %+v, want RuntimeDefault", what, c.Name, sc.SeccompProfile)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s container %s: resources %+v: want cpu and memory requests and a memory limit", what, c.Name, c.Resources)
		}
		for _, m := range c.VolumeMounts {
			if !m.ReadOnly {
				t.Errorf("%s container %s: volume %s is mounted writable", what, c.Name, m.Name)
			}
		}
	}
}

// checkMigrate: `fedsaga migrate` before install and upgrade, with the
// same configuration as the workers.
func checkMigrate(t *testing.T, objs *objects, job *batchv1.Job) {
	t.Helper()
	if got := job.Annotations["helm.sh/hook"]; got != "pre-install,pre-upgrade" {
		t.Errorf("migrate Job hook %q, want pre-install,pre-upgrade", got)
	}
	c := job.Spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Args, []string{"migrate"}) {
		t.Errorf("migrate Job args %q", c.Args)
	}
	cm := objs.configMaps[volumeConfigMap(t, &job.Spec.Template.Spec)]
	if cm == nil || cm.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" ||
		hookWeight(t, cm.Annotations) >= hookWeight(t, job.Annotations) {
		t.Fatalf("migrate Job's ConfigMap is not a hook made before it: %+v", cm)
	}
	if cm.Data["fedsaga.toml"] != objs.configMaps["fedsaga"].Data["fedsaga.toml"] {
		t.Errorf("migrate Job's fedsaga.toml differs from the workers'")
	}
}

func hookWeight(t *testing.T, annotations map[string]string) int {
	t.Helper()
	n, err := strconv.Atoi(annotations["helm.sh/hook-weight"])
	if err != nil {
		t.Fatalf("helm.sh/hook-weight: %v", err)
	}
	return n
}

// volumeConfigMap is the ConfigMap of the pod's "config" volume.
func volumeConfigMap(t *testing.T, pod *corev1.PodSpec) string {
	t.Helper()
	for _, v := range pod.Volumes {
		if v.Name == "config" && v.ConfigMap != nil {
			return v.ConfigMap.Name
		}
	}
	t.Fatal("pod has no config volume")
	return ""
}

// checkScaling: never fewer than one worker, whatever scales them.
func checkScaling(t *testing.T, objs *objects) {
	t.Helper()
	for _, h := range objs.hpas {
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 {
			t.Errorf("HPA %s minReplicas %v: want at least 1", h.Name, h.Spec.MinReplicas)
		}
	}
	for _, s := range objs.scaledObjects {
		if s.Spec.MinReplicaCount == nil || *s.Spec.MinReplicaCount < 1 {
			t.Errorf("ScaledObject %s minReplicaCount %v: want at least 1", s.ObjectMeta.Name, s.Spec.MinReplicaCount)
		}
		if len(s.Spec.Triggers) != 1 || s.Spec.Triggers[0].Type != "temporal" || s.Spec.Triggers[0].Metadata["taskQueue"] == "" {
			t.Errorf("ScaledObject %s triggers %+v: want one temporal trigger on the task queue", s.ObjectMeta.Name, s.Spec.Triggers)
		}
	}
	if len(objs.hpas) > 0 && len(objs.scaledObjects) > 0 {
		t.Error("both an HPA and a KEDA ScaledObject scale the workers")
	}
	if w := objs.deployments["fedsaga-worker"]; len(objs.hpas)+len(objs.scaledObjects) == 0 && (w.Spec.Replicas == nil || *w.Spec.Replicas < 1) {
		t.Errorf("worker replicas %v with no autoscaler: want at least 1", w.Spec.Replicas)
	}
}

// checkNoSecretInConfigMaps: no value of any rendered Secret, and no
// password in a URL, appears in a ConfigMap.
func checkNoSecretInConfigMaps(t *testing.T, objs *objects) {
	t.Helper()
	userinfo := regexp.MustCompile(`://[^/@\s"]*:[^/@\s"]*@`)
	for _, cm := range objs.configMaps {
		for key, data := range cm.Data {
			for _, s := range objs.secrets {
				for k, v := range s.StringData {
					if v != "" && strings.Contains(data, v) {
						t.Errorf("ConfigMap %s %s holds the value of Secret %s key %s", cm.Name, key, s.Name, k)
					}
				}
				for k, v := range s.Data {
					if len(v) > 0 && strings.Contains(data, string(v)) {
						t.Errorf("ConfigMap %s %s holds the value of Secret %s key %s", cm.Name, key, s.Name, k)
					}
				}
			}
			if m := userinfo.FindString(data); m != "" {
				t.Errorf("ConfigMap %s %s holds a URL with a password: %s", cm.Name, key, m)
			}
		}
	}
}

// pendingKeys are keys the chart renders only when the values set them,
// which fedsaga's configuration may not know yet. A rendering that uses
// one loads once config.Config has it; until then the key is reported as
// unknown, which the test allows for these keys only.
var pendingKeys = []string{"temporal.tls", "temporal.api_key", "temporal.manage_search_attributes"}

// knows reports whether config.Config has the dotted key.
func knows(key string) bool {
	typ := reflect.TypeFor[config.Config]()
	for _, part := range strings.Split(key, ".") {
		if typ.Kind() != reflect.Struct {
			return false
		}
		found := false
		for f := range typ.Fields() {
			if tag, _, _ := strings.Cut(f.Tag.Get("koanf"), ","); tag == part {
				typ, found = f.Type, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// loadConfig loads the rendered fedsaga.toml with config.Load, in the
// environment the container of d gets (and nothing else of fedsaga's):
// each variable taken from a Secret set to the rendered Secret's value, or
// a stand-in. It returns nil when the only problems are pending keys.
func loadConfig(t *testing.T, objs *objects, d *appsv1.Deployment, want configCheck) *config.Config {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "FEDSAGA_") && name != "FEDSAGA_HELM_BIN" {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	values := map[string]string{}
	for _, s := range objs.secrets {
		for k, v := range s.StringData {
			values[s.Name+"/"+k] = v
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := values[ref.Name+"/"+ref.Key]
			if !ok { // an existing Secret
				v = "stand-in-" + strings.ToLower(e.Name)
				if strings.HasSuffix(e.Name, "_URL") {
					v = "postgres://fedsaga:stand-in@db:5432/" + strings.ToLower(e.Name) + "?sslmode=require"
				}
			}
			env[e.Name] = v
		default:
			t.Errorf("%s env %s: from %+v; want a value or a Secret", d.Name, e.Name, e.ValueFrom)
		}
	}
	for name, v := range env {
		t.Setenv(name, v)
	}
	path := env[config.EnvConfig]
	var mounted bool
	for _, m := range c.VolumeMounts {
		if m.Name == "config" && m.MountPath == path && m.SubPath == "fedsaga.toml" {
			mounted = true
		}
	}
	if !mounted {
		t.Fatalf("FEDSAGA_CONFIG=%q is not where the config volume is mounted: %+v", path, c.VolumeMounts)
	}
	file := filepath.Join(t.TempDir(), "fedsaga.toml")
	if err := os.WriteFile(file, []byte(objs.configMaps["fedsaga"].Data["fedsaga.toml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(config.EnvConfig, file)
	cfg, err := config.Load("")
	if err != nil {
		var pending []string
		for _, e := range unwrapAll(err) {
			var ce *config.Error
			if errors.As(e, &ce) && errors.Is(ce, config.ErrUnknownKey) && slices.Contains(pendingKeys, ce.Key) && !knows(ce.Key) {
				pending = append(pending, ce.Key)
				continue
			}
			t.Errorf("the chart's fedsaga.toml does not load: %v", e)
		}
		if len(pending) > 0 && !t.Failed() {
			t.Logf("fedsaga's configuration does not know %v yet: the rest is not checked", pending)
		}
		if t.Failed() {
			t.Logf("fedsaga.toml:\n%s", objs.configMaps["fedsaga"].Data["fedsaga.toml"])
		}
		return nil
	}
	for name, db := range cfg.Databases {
		if v := env["FEDSAGA_DB_"+strings.ToUpper(name)+"_URL"]; db.URL != v || v == "" {
			t.Errorf("databases.%s.url = %q, want the Secret's value %q", name, db.URL, v)
		}
	}
	if cfg.NATS.Auth.Type != want.natsAuth {
		t.Errorf("nats.auth.type = %q, want %q", cfg.NATS.Auth.Type, want.natsAuth)
	}
	switch cfg.NATS.Auth.Type {
	case config.AuthToken:
		if string(cfg.NATS.Auth.Token) != env["FEDSAGA_NATS_TOKEN"] {
			t.Error("nats.auth.token is not the Secret's value")
		}
	case config.AuthUserPassword:
		if string(cfg.NATS.Auth.Password) != env["FEDSAGA_NATS_PASSWORD"] {
			t.Error("nats.auth.password is not the Secret's value")
		}
	}
	return cfg
}

// unwrapAll flattens errors.Join trees.
func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var all []error
		for _, e := range j.Unwrap() {
			all = append(all, unwrapAll(e)...)
		}
		return all
	}
	return []error{err}
}

// port is the port of a host:port listen address.
func port(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return int32(n)
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %q", c.Name, name)
	return 0
}

// checkWorker: the probes on worker.http_address, and a grace period
// longer than worker.stop_timeout.
func checkWorker(t *testing.T, d *appsv1.Deployment, cfg *config.Config) {
	t.Helper()
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{"worker"}) {
		t.Errorf("worker args %q", c.Args)
	}
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	if grace <= cfg.Worker.StopTimeout {
		t.Errorf("terminationGracePeriodSeconds %s is not longer than worker.stop_timeout %s", grace, cfg.Worker.StopTimeout)
	}
	if got, want := containerPort(t, c, "http"), port(t, cfg.Worker.HTTPAddress); got != want {
		t.Errorf("worker containerPort %d, worker.http_address %q", got, cfg.Worker.HTTPAddress)
	}
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || probe.HTTPGet.Port.String() != "http" {
			t.Errorf("worker probe %+v: want GET %s on port http", probe, path)
		}
	}
}

// checkAPI: `fedsaga serve` on federation.http_address, behind a Service.
func checkAPI(t *testing.T, d *appsv1.Deployment, objs *objects, cfg *config.Config) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("api args %q", c.Args)
	}
	if got, want := containerPort(t, c, "http"), port(t, cfg.Federation.HTTPAddress); got != want {
		t.Errorf("api containerPort %d, federation.http_address %q", got, cfg.Federation.HTTPAddress)
	}
	if got, want := containerPort(t, c, "metrics"), port(t, cfg.Federation.API.MetricsAddress); got != want {
		t.Errorf("api containerPort metrics %d, federation.api.metrics_address %q", got, cfg.Federation.API.MetricsAddress)
	}
	for _, addr := range []string{cfg.Federation.HTTPAddress, cfg.Federation.API.MetricsAddress} {
		if host, _, _ := net.SplitHostPort(addr); host != "" {
			t.Errorf("the read API listens on %q: want every interface of the pod (\":port\")", addr)
		}
	}
	checkAPIAuth(t, cfg)
	for _, token := range cfg.Federation.API.Tokens {
		for name, cm := range objs.configMaps {
			for key, data := range cm.Data {
				if strings.Contains(data, string(token)) {
					t.Errorf("ConfigMap %s %s holds a read API token", name, key)
				}
			}
		}
	}
	tls := cfg.Federation.API.TLS.CertFile != ""
	for _, probe := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != "/healthz" || (probe.HTTPGet.Scheme == corev1.URISchemeHTTPS) != tls {
			t.Errorf("api probe %+v: want GET /healthz, HTTPS when federation.api.tls.cert_file is set (%v)", probe, tls)
		}
	}
	ports := map[string]bool{}
	for _, s := range objs.services {
		if s.Spec.Selector["app.kubernetes.io/component"] == "api" {
			for _, p := range s.Spec.Ports {
				ports[p.TargetPort.String()] = true
			}
		}
	}
	if !ports["http"] || !ports["metrics"] {
		t.Errorf("the read API's Service targets ports %v; want http and metrics", ports)
	}
}

// checkAPIAuth: `fedsaga serve` starts with cfg. It runs api.Start itself
// (on a loopback port, without metrics) when the configuration names no
// TLS files, which the test does not have; with TLS files it checks the
// rule api.Start applies (federation/api/start.go), which federation/api
// exposes no function for: auth "none", a token, or a client CA.
func checkAPIAuth(t *testing.T, cfg *config.Config) {
	t.Helper()
	a := cfg.Federation.API
	if a.TLS != (config.APITLS{}) {
		if a.Auth != config.APIAuthNone && len(a.Tokens) == 0 && a.TLS.ClientCAFile == "" {
			t.Errorf("federation.api: auth %q without tokens or a client CA: `fedsaga serve` refuses to start", a.Auth)
		}
		return
	}
	fed := cfg.Federation
	fed.HTTPAddress, fed.API.MetricsAddress = "127.0.0.1:0", ""
	svc, err := api.Start(fed, nil, prometheus.NewRegistry(), zerolog.Nop())
	if err != nil {
		t.Errorf("`fedsaga serve` does not start with the chart's configuration: %v", err)
		return
	}
	if err := svc.Shutdown(time.Second); err != nil {
		t.Error(err)
	}
}

// checkServiceMonitors: every port a ServiceMonitor scrapes is a port of
// each Service it selects, and it selects the workers' and the read API's.
func checkServiceMonitors(t *testing.T, objs *objects) {
	t.Helper()
	for _, m := range objs.monitors {
		components := map[string]bool{}
		for _, s := range objs.services {
			selected := true
			for k, v := range m.Spec.Selector.MatchLabels {
				selected = selected && s.Labels[k] == v
			}
			if !selected {
				continue
			}
			components[s.Labels["app.kubernetes.io/component"]] = true
			for _, e := range m.Spec.Endpoints {
				if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == e.Port }) {
					t.Errorf("ServiceMonitor %s scrapes port %q, which Service %s does not have", m.ObjectMeta.Name, e.Port, s.Name)
				}
			}
		}
		if !components["worker"] || !components["api"] {
			t.Errorf("ServiceMonitor %s selects the Services of %v; want worker and api", m.ObjectMeta.Name, components)
		}
	}
}

// checkFiles: every file the configuration names is in a volume mounted
// from a Secret, the codec keys and the read API's TLS files included.
func checkFiles(t *testing.T, d *appsv1.Deployment, cfg *config.Config) {
	t.Helper()
	pod := d.Spec.Template.Spec
	secretVolumes := map[string]corev1.SecretVolumeSource{}
	for _, v := range pod.Volumes {
		if v.Secret != nil {
			secretVolumes[v.Name] = *v.Secret
		}
	}
	files := map[string]string{
		"nats.auth.nkey_seed_file":          cfg.NATS.Auth.NKeySeedFile,
		"nats.auth.credentials_file":        cfg.NATS.Auth.CredentialsFile,
		"nats.tls.ca_file":                  cfg.NATS.TLS.CAFile,
		"nats.tls.cert_file":                cfg.NATS.TLS.CertFile,
		"nats.tls.key_file":                 cfg.NATS.TLS.KeyFile,
		"codec.customer_id_key.file":        cfg.Codec.CustomerIDKey.File,
		"federation.api.tls.cert_file":      cfg.Federation.API.TLS.CertFile,
		"federation.api.tls.key_file":       cfg.Federation.API.TLS.KeyFile,
		"federation.api.tls.client_ca_file": cfg.Federation.API.TLS.ClientCAFile,
	}
	for id, k := range cfg.Codec.Keys {
		files["codec.keys."+id+".file"] = k.File
	}
	if cfg.Codec.Enabled && len(cfg.Codec.Keys) == 0 {
		t.Error("codec.enabled without keys")
	}
	for key, file := range files {
		// Only `fedsaga serve` reads federation.api.tls: only its pod mounts them.
		if file == "" || strings.HasPrefix(key, "federation.api.") && d.Spec.Template.Labels["app.kubernetes.io/component"] != "api" {
			continue
		}
		ok := false
		for _, m := range pod.Containers[0].VolumeMounts {
			src, isSecret := secretVolumes[m.Name]
			if !isSecret || filepath.Dir(file) != m.MountPath {
				continue
			}
			for _, item := range src.Items {
				ok = ok || item.Path == filepath.Base(file)
			}
		}
		if !ok {
			t.Errorf("%s: %s = %q is not a file of a Secret volume", d.Name, key, file)
		}
	}
}

// The chart refuses values that would break fedsaga, naming the value.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		set  []string
		want string
		file string
	}{
		{set: []string{"secrets.readAPITokens.key="}, want: "api.enabled with api.auth=required needs a way to authenticate"},
		{set: []string{"secrets.readAPITokens.key=", "api.tls.secretName=api-tls"}, want: "api.tls.clientCAKey"},
		{set: []string{"api.tls.clientCAKey=ca.crt"}, want: "api.tls.clientCAKey needs api.tls.secretName"},
		{set: []string{"api.auth=open"}, want: `api.auth is "open"`},
		{set: []string{"config.federation.api.tokens={abcdefghijklmnopq}"}, want: "set secrets.readAPITokens"},
		{set: []string{"config.federation.api.auth=none"}, want: "set api.auth instead"},
		{set: []string{"secrets.values.read-api-tokens=null"}, want: `secrets.values has no "read-api-tokens"`, file: "values-local.yaml"},
		{set: []string{"secrets.values.read-api-tokens=long-enough-token-1\\,short"}, want: "token 2 has 5 characters", file: "values-local.yaml"},
		{set: []string{"codec.enabled=true", "codec.activeKey=k1", "codec.keys.k1=k1"}, want: "codec.secret is not set"},
		{set: []string{"codec.enabled=true", "codec.secret=codec", "codec.activeKey=k2", "codec.keys.k1=k1"}, want: `codec.activeKey "k2" is not an id of codec.keys`},
		{set: []string{"codec.secret=codec", "codec.customerIdAttribute=hash"}, want: "codec.customerIdAttribute hash needs codec.customerIdKey"},
		{set: []string{"config.codec.keys.k1.env=KEY"}, want: "set codec.secret and codec.keys instead"},
		{set: []string{"worker.autoscaling.enabled=false", "worker.keda.enabled=true", "worker.keda.minReplicaCount=0"}, want: "worker.keda.minReplicaCount must be at least 1"},
		{set: []string{"worker.autoscaling.minReplicas=0"}, want: "worker.autoscaling.minReplicas must be at least 1"},
		{set: []string{"worker.replicas=0"}, want: "worker.replicas must be at least 1"},
		{set: []string{"worker.keda.enabled=true"}, want: "set worker.autoscaling.enabled=false"},
		{set: []string{"worker.terminationMarginSeconds=0"}, want: "worker.terminationMarginSeconds"},
		{set: []string{"config.worker.stop_timeout=1m"}, want: "set worker.stopTimeoutSeconds instead"},
		{set: []string{"config.databases.orders.url=postgres://u:p@h/db"}, want: "secrets.databaseURLs.orders"},
		{set: []string{"config.databases.audit.pool_size=5"}, want: "add secrets.databaseURLs.audit"},
		{set: []string{"config.nats.auth.token=abc"}, want: "set secrets.natsToken instead"},
	} {
		t.Run(strings.Join(tc.set, ","), func(t *testing.T) {
			r := rendering{set: tc.set}
			if tc.file != "" {
				r.files = []string{tc.file}
			}
			out, err := helm(t, r.args("template")...)
			if err == nil {
				t.Fatalf("rendered, want a failure naming %q:\n%.300s", tc.want, out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to name %q", err, tc.want)
			}
		})
	}
}

// The image tag follows the chart's appVersion unless image.tag is set.
func TestImageTag(t *testing.T) {
	var meta struct {
		AppVersion string `json:"appVersion"`
	}
	b, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &meta); err != nil || meta.AppVersion == "" {
		t.Fatalf("Chart.yaml appVersion: %q, %v", meta.AppVersion, err)
	}
	for set, want := range map[string]string{"": ":" + meta.AppVersion, "image.tag=v9.9.9": ":v9.9.9"} {
		r := rendering{}
		if set != "" {
			r.set = []string{set}
		}
		for _, d := range render(t, r).deployments {
			if img := d.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, want) {
				t.Errorf("--set %q: %s image %q, want tag %s", set, d.Name, img, want)
			}
		}
	}
}

// The local stack of values-local.yaml decodes strictly too.
func TestLocalStack(t *testing.T) {
	b, err := os.ReadFile("local-stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, string(b))
	for _, name := range []string{"postgres", "nats", "temporal"} {
		if objs.deployments[name] == nil {
			t.Errorf("local-stack.yaml has no Deployment %s", name)
		}
	}
	values, err := os.ReadFile(filepath.Join(chart, "values-local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{"temporal:7233", "nats://nats:4222", "@postgres:5432/"} {
		if !bytes.Contains(values, []byte(addr)) {
			t.Errorf("values-local.yaml does not use local-stack.yaml's %s", addr)
		}
	}
}
