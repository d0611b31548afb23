// Package compose checks the development stack: docker-compose.yml, the
// files it mounts and the Dockerfile it builds. It needs no Docker engine;
// TestComposeConfigValid needs the docker-compose command
// (apt-get install docker-compose), which validates the file offline.
package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/test/devserver"
)

const (
	repoRoot    = "../.."
	composePath = repoRoot + "/docker-compose.yml"
)

// composeFile is the part of a Compose file the tests look at.
type composeFile struct {
	Version  string             `yaml:"version"`
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
	Extra    map[string]any     `yaml:",inline"` // x-* extensions, name, ...
}

type service struct {
	Image         string    `yaml:"image"`
	Build         any       `yaml:"build"`       // "ctx" or {context: ctx, dockerfile: ...}
	Command       any       `yaml:"command"`     // "a b" or [a, b]
	Environment   any       `yaml:"environment"` // {K: V} or ["K=V"]
	DependsOn     any       `yaml:"depends_on"`  // [svc] or {svc: {condition: ...}}
	Ports         []any     `yaml:"ports"`       // "h:c" strings or long syntax
	Expose        []any     `yaml:"expose"`
	Volumes       []any     `yaml:"volumes"` // "src:dst[:mode]" or long syntax
	ContainerName string    `yaml:"container_name"`
	Healthcheck   yaml.Node `yaml:"healthcheck"`
	Deploy        yaml.Node `yaml:"deploy"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatalf("read %s: %v", composePath, err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("parse %s: %v", composePath, err)
	}
	if len(cf.Services) == 0 {
		t.Fatalf("%s has no services", composePath)
	}
	return cf
}

// env returns the service's environment as a map, whichever of the two
// Compose syntaxes it uses.
func (s service) env() map[string]string {
	out := map[string]string{}
	switch e := s.Environment.(type) {
	case map[string]any:
		for k, v := range e {
			if v == nil {
				out[k] = ""
			} else {
				out[k] = fmt.Sprint(v)
			}
		}
	case []any:
		for _, item := range e {
			k, v, _ := strings.Cut(fmt.Sprint(item), "=")
			out[k] = v
		}
	}
	return out
}

// command returns the service's command as a list of words.
func (s service) command() []string {
	switch c := s.Command.(type) {
	case string:
		return strings.Fields(c)
	case []any:
		out := make([]string, len(c))
		for i, w := range c {
			out[i] = fmt.Sprint(w)
		}
		return out
	}
	return nil
}

// buildContext returns the build context, "" when the service is not built.
func (s service) buildContext() string {
	switch b := s.Build.(type) {
	case string:
		return b
	case map[string]any:
		if c, ok := b["context"].(string); ok {
			return c
		}
		return "."
	}
	return ""
}

// dependsOn maps each dependency to its condition ("service_started" for the
// short syntax).
func (s service) dependsOn() map[string]string {
	out := map[string]string{}
	switch d := s.DependsOn.(type) {
	case []any:
		for _, name := range d {
			out[fmt.Sprint(name)] = "service_started"
		}
	case map[string]any:
		for name, v := range d {
			cond := "service_started"
			if m, ok := v.(map[string]any); ok {
				if c, ok := m["condition"].(string); ok {
					cond = c
				}
			}
			out[name] = cond
		}
	}
	return out
}

// bindMounts returns the host paths of the service's bind mounts mapped to
// their container paths.
func (s service) bindMounts() map[string]string {
	out := map[string]string{}
	for _, v := range s.Volumes {
		switch m := v.(type) {
		case string:
			parts := strings.Split(m, ":")
			if len(parts) >= 2 && (strings.HasPrefix(parts[0], ".") || strings.HasPrefix(parts[0], "/")) {
				out[parts[0]] = parts[1]
			}
		case map[string]any:
			if m["type"] == "bind" {
				out[fmt.Sprint(m["source"])] = fmt.Sprint(m["target"])
			}
		}
	}
	return out
}

// findService returns the name of the first service whose image starts with
// one of the prefixes.
func findService(t *testing.T, cf composeFile, what string, prefixes ...string) (string, service) {
	t.Helper()
	names := make([]string, 0, len(cf.Services))
	for name := range cf.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		svc := cf.Services[name]
		for _, p := range prefixes {
			if strings.HasPrefix(svc.Image, p) {
				return name, svc
			}
		}
	}
	t.Fatalf("no %s service (image %s...) in %s", what, strings.Join(prefixes, " or "), composePath)
	return "", service{}
}

// fedsagaServices returns the services built from the repository's
// Dockerfile, by name.
func fedsagaServices(cf composeFile) map[string]service {
	out := map[string]service{}
	for name, svc := range cf.Services {
		if ctx := svc.buildContext(); ctx == "." || ctx == "./" {
			out[name] = svc
		}
	}
	return out
}

// workerService returns the fedsaga service whose command is "worker".
func workerService(t *testing.T, cf composeFile) (string, service) {
	t.Helper()
	for _, name := range []string{"worker", "fedsaga-worker"} {
		if svc, ok := cf.Services[name]; ok {
			return name, svc
		}
	}
	t.Fatalf("no service named worker or fedsaga-worker in %s", composePath)
	return "", service{}
}

func TestComposeFileShape(t *testing.T) {
	cf := loadCompose(t)
	if cf.Version != "" {
		t.Errorf("top-level version: %q: the Compose specification has no version key (Compose v2 warns that it is obsolete)", cf.Version)
	}
	if _, ok := cf.Extra["name"]; ok {
		t.Errorf("top-level name: Debian's docker-compose 1.29 refuses it")
	}
}

func TestPostgresCreatesTheThreeDatabases(t *testing.T) {
	cf := loadCompose(t)
	// The FEDSAGA_DATABASES__*__URL values point at host postgres.
	pg, ok := cf.Services["postgres"]
	if !ok || !strings.HasPrefix(pg.Image, "postgres:") {
		t.Fatalf("no service postgres with a postgres image in %s", composePath)
	}
	if got := pg.env()["POSTGRES_USER"]; got != "fedsaga" {
		t.Errorf("postgres: POSTGRES_USER = %q, want fedsaga", got)
	}
	if got := pg.env()["POSTGRES_PASSWORD"]; got != "fedsaga" {
		t.Errorf("postgres: POSTGRES_PASSWORD = %q, want fedsaga", got)
	}

	var initFile string
	for src, dst := range pg.bindMounts() {
		if strings.HasPrefix(dst, "/docker-entrypoint-initdb.d") {
			initFile = src
		}
	}
	if initFile == "" {
		t.Fatalf("postgres: no bind mount into /docker-entrypoint-initdb.d")
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, initFile))
	if err != nil {
		t.Fatalf("postgres init script: %v", err)
	}
	sql := string(data)
	for _, db := range []string{"fedsaga_orders", "fedsaga_inventory", "fedsaga_payments"} {
		re := regexp.MustCompile(`(?i)CREATE\s+DATABASE\s+"?` + db + `"?`)
		if !re.MatchString(sql) {
			t.Errorf("%s does not create database %s", initFile, db)
		}
	}

	if !strings.Contains(healthcheckText(pg), "pg_isready") {
		t.Errorf("postgres: healthcheck does not use pg_isready: %q", healthcheckText(pg))
	}
}

func TestTemporalUsesPostgreSQL(t *testing.T) {
	cf := loadCompose(t)
	name, tmp := findService(t, cf, "Temporal server", "temporalio/auto-setup:", "temporalio/server:")
	if name != "temporal" {
		t.Errorf("Temporal server service is %q; FEDSAGA_TEMPORAL__ADDRESS expects host temporal", name)
	}
	if tag := tmp.Image[strings.LastIndex(tmp.Image, ":")+1:]; tag == "latest" {
		t.Errorf("%s: image %s is not pinned", name, tmp.Image)
	}
	env := tmp.env()
	if db := env["DB"]; !strings.HasPrefix(db, "postgres") {
		if sp := env["SQL_PLUGIN"]; !strings.HasPrefix(sp, "postgres") {
			t.Errorf("%s: DB = %q (SQL_PLUGIN = %q), want a PostgreSQL plugin (postgres12)", name, db, sp)
		}
	}
	seeds := env["POSTGRES_SEEDS"]
	if seeds == "" {
		seeds = env["SQL_HOST"]
	}
	seed, ok := cf.Services[seeds]
	if !ok || !strings.HasPrefix(seed.Image, "postgres:") {
		t.Errorf("%s: POSTGRES_SEEDS = %q is not a postgres service", name, seeds)
	}
	for _, k := range []string{"DB_PORT", "POSTGRES_USER", "POSTGRES_PWD"} {
		if env[k] == "" {
			t.Errorf("%s: %s is not set", name, k)
		}
	}
	if cond := tmp.dependsOn()[seeds]; cond != "service_healthy" {
		t.Errorf("%s: depends_on %s condition = %q, want service_healthy", name, seeds, cond)
	}
	if !slices.ContainsFunc(tmp.Ports, func(p any) bool { return strings.HasSuffix(fmt.Sprint(p), ":7233") }) {
		t.Errorf("%s: port 7233 not published: %v", name, tmp.Ports)
	}

	// The dynamic config file is mounted where DYNAMIC_CONFIG_FILE_PATH
	// (relative to /etc/temporal) points, and holds the settings fedsaga
	// relies on.
	dcPath := env["DYNAMIC_CONFIG_FILE_PATH"]
	if dcPath == "" {
		t.Fatalf("%s: DYNAMIC_CONFIG_FILE_PATH is not set", name)
	}
	if !strings.HasPrefix(dcPath, "/") {
		dcPath = "/etc/temporal/" + dcPath
	}
	var hostFile string
	for src, dst := range tmp.bindMounts() {
		switch {
		case dst == dcPath:
			hostFile = src
		case strings.HasPrefix(dcPath, strings.TrimSuffix(dst, "/")+"/"):
			hostFile = filepath.Join(src, strings.TrimPrefix(dcPath, strings.TrimSuffix(dst, "/")+"/"))
		}
	}
	if hostFile == "" {
		t.Fatalf("%s: nothing is mounted at %s", name, dcPath)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, hostFile))
	if err != nil {
		t.Fatalf("dynamic config: %v", err)
	}
	var dc map[string][]struct {
		Value       any            `yaml:"value"`
		Constraints map[string]any `yaml:"constraints"`
	}
	if err := yaml.Unmarshal(data, &dc); err != nil {
		t.Fatalf("%s: not Temporal dynamic config (key: [{value, constraints}]): %v", hostFile, err)
	}
	// Every setting of the dev server (make run, make bench, the tests'
	// stack) holds here too, with the same value and everywhere.
	settings, err := devserver.ReadConfig(repoRoot + "/deploy/temporal/devserver.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		var want any
		if err := json.Unmarshal([]byte(s.Value), &want); err != nil {
			t.Errorf("devserver.conf: %s=%s: not a JSON value: %v", s.Key, s.Value, err)
			continue
		}
		vals := dc[s.Key]
		if len(vals) == 0 {
			t.Errorf("%s: %s is missing (devserver.conf sets %s)", hostFile, s.Key, s.Value)
			continue
		}
		if got := jsonValue(t, vals[0].Value); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s = %v, want %s as in devserver.conf", hostFile, s.Key, vals[0].Value, s.Value)
		}
		if vals[0].Constraints == nil || len(vals[0].Constraints) != 0 {
			t.Errorf("%s: %s: want constraints: {} (applies everywhere), got %v", hostFile, s.Key, vals[0].Constraints)
		}
	}
	for _, key := range []string{"history.queueMaxPredicateSize", "history.queueReaderStuckCriticalAttempts", "system.enableEagerWorkflowStart", "system.enableActivityEagerExecution"} {
		if !slices.ContainsFunc(settings, func(s devserver.Setting) bool { return s.Key == key }) {
			t.Errorf("devserver.conf: %s is missing", key)
		}
	}
}

// jsonValue is v, a value decoded from YAML, as encoding/json decodes the
// same value, so that it compares with a dynamic-config value given as JSON.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return out
}

func TestTemporalUI(t *testing.T) {
	cf := loadCompose(t)
	name, ui := findService(t, cf, "Temporal UI", "temporalio/ui:")
	if addr := ui.env()["TEMPORAL_ADDRESS"]; addr != "temporal:7233" {
		t.Errorf("%s: TEMPORAL_ADDRESS = %q, want temporal:7233", name, addr)
	}
	// fedsaga's docs give the Web UI as http://localhost:8233.
	if !slices.ContainsFunc(ui.Ports, func(p any) bool { return strings.HasSuffix(fmt.Sprint(p), "8233:8080") }) {
		t.Errorf("%s: container port 8080 is not published on host port 8233: %v", name, ui.Ports)
	}
}

func TestNATSJetStream(t *testing.T) {
	cf := loadCompose(t)
	name, nats := findService(t, cf, "NATS", "nats:")
	if name != "nats" {
		t.Errorf("NATS service is %q; FEDSAGA_NATS__URL expects host nats", name)
	}
	cmd := nats.command()
	if !slices.Contains(cmd, "-js") && !slices.Contains(cmd, "--jetstream") {
		t.Errorf("%s: command %q does not enable JetStream (-js)", name, cmd)
	}
	i := slices.Index(cmd, "-sd")
	if i < 0 {
		i = slices.Index(cmd, "--store_dir")
	}
	if i < 0 || i+1 >= len(cmd) {
		t.Fatalf("%s: command %q sets no JetStream store directory (-sd)", name, cmd)
	}
	storeDir := cmd[i+1]
	if !slices.ContainsFunc(nats.Volumes, func(v any) bool { return strings.HasSuffix(fmt.Sprint(v), ":"+storeDir) }) {
		t.Errorf("%s: store directory %s is not a volume: %v", name, storeDir, nats.Volumes)
	}
	for _, port := range []string{"4222", "8222"} {
		if !slices.ContainsFunc(nats.Ports, func(p any) bool { return strings.HasSuffix(fmt.Sprint(p), ":"+port) }) {
			t.Errorf("%s: port %s not published: %v", name, port, nats.Ports)
		}
	}
}

func TestWorker(t *testing.T) {
	cf := loadCompose(t)
	name, w := workerService(t, cf)
	if ctx := w.buildContext(); ctx != "." {
		t.Errorf("%s: build context = %q, want \".\" (the repository's Dockerfile)", name, ctx)
	}
	if cmd := w.command(); !slices.Equal(cmd, []string{"worker"}) {
		t.Errorf("%s: command = %q, want [worker]", name, cmd)
	}
	// `docker compose up --scale worker=N` needs distinct container names
	// and no fixed host port.
	if w.ContainerName != "" {
		t.Errorf("%s: container_name %q prevents --scale", name, w.ContainerName)
	}
	if len(w.Ports) != 0 {
		t.Errorf("%s: host ports %v prevent --scale; use expose", name, w.Ports)
	}
	if !slices.ContainsFunc(w.Expose, func(p any) bool { return fmt.Sprint(p) == "9464" }) {
		t.Errorf("%s: port 9464 (health, metrics) not exposed: %v", name, w.Expose)
	}
	// Debian's docker-compose 1.29 ignores deploy.replicas.
	if !w.Deploy.IsZero() {
		t.Errorf("%s: has a deploy section; scale with --scale instead", name)
	}

	deps := w.dependsOn()
	for dep, want := range map[string]string{
		"postgres": "service_healthy",
		"temporal": "service_healthy",
		"nats":     "service_healthy",
	} {
		if got := deps[dep]; got != want {
			t.Errorf("%s: depends_on %s condition = %q, want %s", name, dep, got, want)
		}
	}
	migrated := false
	for dep, cond := range deps {
		if cond == "service_completed_successfully" && slices.Contains(cf.Services[dep].command(), "migrate") {
			migrated = true
		}
	}
	if !migrated {
		t.Errorf("%s: does not depend on a `migrate` service with condition service_completed_successfully: %v", name, deps)
	}
	// A healthcheck in the distroless image must not need a shell or curl.
	if hc := healthcheckText(w); hc != "" && !strings.Contains(hc, "/fedsaga health") {
		t.Errorf("%s: healthcheck %q; the image has no shell, curl or wget, use [CMD, /fedsaga, health]", name, hc)
	}

	env := w.env()
	for _, k := range []string{
		"FEDSAGA_DATABASES__ORDERS__URL",
		"FEDSAGA_DATABASES__INVENTORY__URL",
		"FEDSAGA_DATABASES__PAYMENTS__URL",
		"FEDSAGA_TEMPORAL__ADDRESS",
		"FEDSAGA_NATS__URL",
	} {
		if env[k] == "" {
			t.Errorf("%s: %s is not set", name, k)
		}
	}
	for _, db := range config.RequiredDatabases {
		k := "FEDSAGA_DATABASES__" + strings.ToUpper(db) + "__URL"
		if v := env[k]; !strings.HasPrefix(v, "postgres://") || !strings.Contains(v, "@postgres:5432/fedsaga_"+db) {
			t.Errorf("%s: %s = %q, want postgres://...@postgres:5432/fedsaga_%s", name, k, v, db)
		}
	}
	if got := env["FEDSAGA_TEMPORAL__ADDRESS"]; got != "temporal:7233" {
		t.Errorf("%s: FEDSAGA_TEMPORAL__ADDRESS = %q, want temporal:7233", name, got)
	}
	if got := env["FEDSAGA_NATS__URL"]; got != "nats://nats:4222" {
		t.Errorf("%s: FEDSAGA_NATS__URL = %q, want nats://nats:4222", name, got)
	}
}

// TestMigrateAndSeed checks the one-shot services: migrate after PostgreSQL
// is healthy, seed after migrate succeeded.
func TestMigrateAndSeed(t *testing.T) {
	cf := loadCompose(t)
	var migrate, seed string
	for name, svc := range fedsagaServices(cf) {
		switch cmd := svc.command(); {
		case slices.Equal(cmd, []string{"migrate"}):
			migrate = name
		case slices.Equal(cmd, []string{"seed"}):
			seed = name
		}
	}
	if migrate == "" {
		t.Fatalf("no service built from . with command [migrate]")
	}
	if got := cf.Services[migrate].dependsOn()["postgres"]; got != "service_healthy" {
		t.Errorf("%s: depends_on postgres condition = %q, want service_healthy", migrate, got)
	}
	if seed != "" {
		if got := cf.Services[seed].dependsOn()[migrate]; got != "service_completed_successfully" {
			t.Errorf("%s: depends_on %s condition = %q, want service_completed_successfully", seed, migrate, got)
		}
	}
}

// TestFedsagaEnvMatchesConfig checks that every FEDSAGA_* variable given to a
// fedsaga container names a real configuration key: FEDSAGA_A__B__C is the key
// a.b.c of config.Config (koanf tags), map entries taking any name.
func TestFedsagaEnvMatchesConfig(t *testing.T) {
	cf := loadCompose(t)
	services := fedsagaServices(cf)
	if len(services) == 0 {
		t.Fatalf("no service is built from the repository (build: .)")
	}
	for name, svc := range services {
		for key := range svc.env() {
			if !strings.HasPrefix(key, "FEDSAGA_") {
				continue
			}
			// FEDSAGA_LOG is the documented shorthand for log.level.
			if key == "FEDSAGA_LOG" {
				continue
			}
			if err := checkConfigKey(reflect.TypeFor[config.Config](), strings.TrimPrefix(key, "FEDSAGA_")); err != nil {
				t.Errorf("%s: %s: %v", name, key, err)
			}
		}
	}
}

func checkConfigKey(typ reflect.Type, envKey string) error {
	segs := strings.Split(strings.ToLower(envKey), "__")
	path := ""
	for i, seg := range segs {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		switch typ.Kind() {
		case reflect.Struct:
			field, ok := koanfField(typ, seg)
			if !ok {
				return fmt.Errorf("config has no key %s%s", path, seg)
			}
			typ = field.Type
		case reflect.Map:
			if seg == "" {
				return fmt.Errorf("empty map key after %s", path)
			}
			typ = typ.Elem()
		default:
			return fmt.Errorf("%s is a %s, it has no key %s", strings.TrimSuffix(path, "."), typ, strings.Join(segs[i:], "."))
		}
		path += seg + "."
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() == reflect.Struct || typ.Kind() == reflect.Map {
		return fmt.Errorf("%s is a section (%s), not a value", strings.TrimSuffix(path, "."), typ)
	}
	return nil
}

func koanfField(typ reflect.Type, name string) (reflect.StructField, bool) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("koanf"), ",")
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func healthcheckText(s service) string {
	if s.Healthcheck.IsZero() {
		return ""
	}
	var hc struct {
		Test any `yaml:"test"`
	}
	if err := s.Healthcheck.Decode(&hc); err != nil {
		return ""
	}
	switch t := hc.Test.(type) {
	case string:
		return t
	case []any:
		words := make([]string, 0, len(t))
		for _, w := range t {
			words = append(words, fmt.Sprint(w))
		}
		return strings.Join(words, " ")
	}
	return ""
}

func TestBindMountsExist(t *testing.T) {
	cf := loadCompose(t)
	for name, svc := range cf.Services {
		for src := range svc.bindMounts() {
			if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
				t.Errorf("%s: bind mount source %s: %v", name, src, err)
			}
		}
	}
}

// TestComposeConfigValid has docker-compose validate the file; it needs no
// Docker engine.
func TestComposeConfigValid(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatalf("docker-compose not found (%v): install it with `apt-get install docker-compose` to validate docker-compose.yml", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-f", composePath, "config", "-q")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker-compose -f %s config -q: %v\n%s", composePath, err, out.String())
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	// Instructions only: comments dropped, continuation lines joined.
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	has := func(re string) bool {
		r := regexp.MustCompile(re)
		return slices.ContainsFunc(lines, r.MatchString)
	}
	checks := []struct{ re, what string }{
		{`^FROM\s+golang:1\.26\S*\s+AS\s+\S+`, "a golang:1.26 build stage"},
		{`^RUN\s.*go mod download`, "a go mod download layer"},
		{`^RUN\s.*CGO_ENABLED=0.*go build\s.*-trimpath.*\s\./cmd/fedsaga\b`, "CGO_ENABLED=0 go build -trimpath ... ./cmd/fedsaga"},
		{`^ENTRYPOINT\s+\[\s*"/fedsaga"\s*\]$`, `ENTRYPOINT ["/fedsaga"]`},
		{`^CMD\s+\[\s*"worker"\s*\]$`, `CMD ["worker"]`},
	}
	for _, c := range checks {
		if !has(c.re) {
			t.Errorf("Dockerfile has no %s", c.what)
		}
	}
	// The go mod download layer comes before the sources are copied.
	download := slices.IndexFunc(lines, regexp.MustCompile(`go mod download`).MatchString)
	copyAll := slices.IndexFunc(lines, regexp.MustCompile(`^COPY\s+\.\s`).MatchString)
	if download < 0 || copyAll < 0 || download > copyAll {
		t.Errorf("Dockerfile: go mod download (line %d) should precede COPY . (line %d)", download, copyAll)
	}
	var froms []string
	for _, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			froms = append(froms, l)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile is not multi-stage: %q", froms)
	}
	if final := froms[len(froms)-1]; !strings.Contains(final, "distroless/static") && !strings.Contains(final, "alpine") {
		t.Errorf("Dockerfile: final stage %q is not a small image (distroless/static or alpine)", final)
	}

	ignore, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	patterns := map[string]bool{}
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns[strings.TrimSuffix(strings.TrimPrefix(l, "/"), "/")] = true
		}
	}
	for _, want := range []string{".git", "bin", ".cache", ".run"} {
		if !patterns[want] {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

// composeDefault resolves Compose's ${VAR:-default} interpolation to the
// default, as `docker compose up` does when VAR is not set.
var composeDefault = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}`)

// TestReadAPI: the api service's environment loads, and `fedsaga serve`
// would start with it: it listens on every interface of the container (the
// published port), serves metrics on an exposed port, and has a token.
func TestReadAPI(t *testing.T) {
	cf := loadCompose(t)
	svc, ok := cf.Services["api"]
	if !ok || !slices.Equal(svc.command(), []string{"serve"}) {
		t.Fatalf("no service api with command [serve] in %s", composePath)
	}
	t.Setenv(config.EnvConfig, filepath.Join(t.TempDir(), "empty.toml"))
	if err := os.WriteFile(os.Getenv(config.EnvConfig), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range svc.env() {
		t.Setenv(k, composeDefault.ReplaceAllString(v, "$1"))
	}
	cfg, err := config.Load("")
	if err != nil {
		t.Fatalf("the api service's environment does not load: %v", err)
	}
	api := cfg.Federation.API
	// The rule api.Start applies before it listens (federation/api/start.go,
	// which exposes no function for it).
	if api.Auth != config.APIAuthNone && len(api.Tokens) == 0 && api.TLS.ClientCAFile == "" {
		t.Errorf("federation.api: no tokens and no client CA with auth %q: `fedsaga serve` refuses to start", api.Auth)
	}
	if !strings.HasPrefix(cfg.Federation.HTTPAddress, ":") && !strings.HasPrefix(cfg.Federation.HTTPAddress, "0.0.0.0:") {
		t.Errorf("federation.http_address = %q: unreachable from outside the container", cfg.Federation.HTTPAddress)
	}
	_, httpPort, _ := strings.Cut(cfg.Federation.HTTPAddress, ":")
	if !slices.ContainsFunc(svc.Ports, func(p any) bool { return strings.HasSuffix(fmt.Sprint(p), ":"+httpPort) }) {
		t.Errorf("federation.http_address %q: port not published: %v", cfg.Federation.HTTPAddress, svc.Ports)
	}
	host, metricsPort, _ := strings.Cut(api.MetricsAddress, ":")
	if host != "" && host != "0.0.0.0" || !slices.ContainsFunc(svc.Expose, func(p any) bool { return fmt.Sprint(p) == metricsPort }) {
		t.Errorf("federation.api.metrics_address = %q: want every interface and the port exposed (%v)", api.MetricsAddress, svc.Expose)
	}
}
