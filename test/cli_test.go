package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/workflows"
)

// migratedNow matches a migrate line that applied migrations.
var migratedNow = regexp.MustCompile(`\(([1-9]\d*) applied now\)`)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// fedsagaBin builds cmd/fedsaga once per run.
func fedsagaBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(stack.Dir, "fedsaga")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/fedsaga").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build fedsaga: %v", buildErr)
	}
	return binPath
}

type result struct {
	code           int
	stdout, stderr string
}

// fedsaga runs the binary with the stack's configuration.
func fedsaga(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, fedsagaBin(t), append([]string{"--config", stack.ConfigPath}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run fedsaga %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

func TestCLIPlaceOrderBadInput(t *testing.T) {
	s := stack
	p := s.addProduct(t, 100, 10)
	customer := s.addCustomer(t, 10_000)
	ordersBefore := s.count(t, "orders", `SELECT count(*) FROM tb_order`)

	cases := []struct {
		name string
		args []string
		want string // the argument the message must name
	}{
		{"no items", []string{"--customer", customer}, "--item"},
		{"zero quantity", []string{"--customer", customer, "--item", p.SKU + "=0"}, "--item"},
		{"negative quantity", []string{"--customer", customer, "--item", p.SKU + "=-2"}, "--item"},
		{"quantity not a number", []string{"--customer", customer, "--item", p.SKU + "=two"}, "--item"},
		{"fractional quantity", []string{"--customer", customer, "--item", p.SKU + "=1.5"}, "--item"},
		{"no equals sign", []string{"--customer", customer, "--item", p.SKU}, "--item"},
		{"empty sku", []string{"--customer", customer, "--item", "=3"}, "--item"},
		{"one bad among good", []string{"--customer", customer, "--item", p.SKU + "=1", "--item", p.SKU + "=x"}, "--item"},
		{"no customer", []string{"--item", p.SKU + "=1"}, "--customer"},
		{"bad order id", []string{"--customer", customer, "--item", p.SKU + "=1"}, "--order-id"},
		{"unknown flag", []string{"--customer", customer, "--item", p.SKU + "=1", "--colour", "red"}, "--colour"},
		{"positional argument", []string{"--customer", customer, "--item", p.SKU + "=1", "extra"}, "extra"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orderID := uniq(t, "ord")
			if tc.name == "bad order id" {
				orderID = "has spaces and.dots"
			}
			args := append([]string{"order", "place", "--order-id", orderID, "--wait"}, tc.args...)
			r := fedsaga(t, nil, args...)
			if r.code != 2 {
				t.Fatalf("exit code %d, want 2; stderr: %s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not name %s", r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			_, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflows.OrderWorkflowID(orderID), "")
			var notFound *serviceerror.NotFound
			if !errors.As(err, &notFound) {
				t.Errorf("a saga was started for %s (describe: %v)", orderID, err)
			}
		})
	}
	if got := s.count(t, "orders", `SELECT count(*) FROM tb_order`); got != ordersBefore {
		t.Errorf("orders: %d rows, was %d: bad input wrote something", got, ordersBefore)
	}
	if got := s.stock(t, p); got != 10 {
		t.Errorf("stock = %d, want 10", got)
	}
}

func TestCLIPlaceOrderWait(t *testing.T) {
	s := stack
	p := s.addProduct(t, 1250, 3)
	customer := s.addCustomer(t, 10_000)

	for _, tc := range []struct {
		qty    string
		status string
		reason string
	}{
		{"2", "confirmed", ""},
		{"9", "cancelled", "OutOfStockError"},
	} {
		orderID := uniq(t, "ord")
		r := fedsaga(t, nil, "order", "place", "--customer", customer, "--item", p.SKU+"="+tc.qty, "--order-id", orderID, "--wait")
		if r.code != 0 {
			t.Fatalf("exit code %d; stderr: %s", r.code, r.stderr)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("stdout %q is not one JSON object: %v", r.stdout, err)
		}
		reason, _ := out["reason"].(string)
		if out["order_id"] != orderID || out["status"] != tc.status || !strings.Contains(reason, tc.reason) {
			t.Errorf("outcome %v, want order %s %s (%s)", out, orderID, tc.status, tc.reason)
		}
		if _, ok := out["reason"]; !ok {
			t.Errorf("outcome %v has no reason field", out)
		}
	}

	// Without --wait: the order id, and the saga runs on.
	orderID := uniq(t, "ord")
	r := fedsaga(t, nil, "order", "place", "--customer", customer, "--item", p.SKU+"=1", "--order-id", orderID)
	if r.code != 0 || strings.TrimSpace(r.stdout) != orderID {
		t.Fatalf("exit %d, stdout %q: want the order id %s", r.code, r.stdout, orderID)
	}
	run := s.Temporal.GetWorkflow(context.Background(), workflows.OrderWorkflowID(orderID), "")
	var out workflows.Outcome
	if err := run.Get(context.Background(), &out); err != nil || out.Status != "confirmed" {
		t.Errorf("saga outcome %+v, %v: want confirmed", out, err)
	}
}

func TestCLIConfigPrintRedactsSecrets(t *testing.T) {
	r := fedsaga(t, []string{
		"FEDSAGA_DATABASES__ORDERS__URL=postgres://app:s3cret-pw@db.internal:5432/orders?sslmode=disable",
		"FEDSAGA_NATS__URL=nats://svc:n4ts-pw@nats.internal:4222",
	}, "config", "print")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, secret := range []string{"s3cret-pw", "n4ts-pw"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("config print shows the secret %q:\n%s", secret, r.stdout)
		}
	}
	for _, want := range []string{"[REDACTED]", "db.internal:5432", "nats.internal:4222", "task_queue", "compensation_timeout"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config print lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestCLIConfigErrorsNameTheKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(path, []byte(`
[temporal]
adress = "x:1"
[saga]
timeout = "soon"
[databases.orders]
url = "${FEDSAGA_TEST_UNSET_VAR}"
`), 0o600)
	cmd := exec.Command(fedsagaBin(t), "--config", path, "config", "print")
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() == 0 {
		t.Fatalf("bad config accepted:\n%s", out)
	}
	for _, want := range []string{"temporal.adress", "saga.timeout", "databases.orders.url", "FEDSAGA_TEST_UNSET_VAR", "databases.inventory", "databases.payments"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error output does not name %s:\n%s", want, out)
		}
	}
}

func TestCLIHealth(t *testing.T) {
	r := fedsaga(t, nil, "health")
	if r.code != 0 {
		t.Fatalf("health of a running stack: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"orders", "inventory", "payments", "temporal", "nats"} {
		if !strings.Contains(r.stdout, "ok    "+name) {
			t.Errorf("health output lacks %s ok:\n%s", name, r.stdout)
		}
	}

	// A database that cannot be reached: named, URL redacted, key given.
	r = fedsaga(t, []string{"FEDSAGA_DATABASES__INVENTORY__URL=postgres://app:hunter2@127.0.0.1:1/nowhere?connect_timeout=2"},
		"health", "--database", "inventory")
	if r.code != 1 {
		t.Fatalf("health with inventory down: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	all := r.stdout + r.stderr
	for _, want := range []string{"DOWN  inventory", "DatabaseConnectionError", "databases.inventory.url", "fedsaga health --database inventory", "[REDACTED]"} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "hunter2") || strings.Contains(all, "orders ") {
		t.Errorf("output shows the password or checks other databases:\n%s", all)
	}

	// Temporal and NATS down: both named.
	r = fedsaga(t, []string{"FEDSAGA_TEMPORAL__ADDRESS=127.0.0.1:1", "FEDSAGA_NATS__URL=nats://127.0.0.1:1"}, "health")
	if r.code != 1 || !strings.Contains(r.stdout, "DOWN  temporal") || !strings.Contains(r.stdout, "DOWN  nats") {
		t.Errorf("health with temporal and nats down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = fedsaga(t, nil, "health", "--database", "billing")
	if r.code != 2 || !strings.Contains(r.stderr, "billing") {
		t.Errorf("unknown --database: exit %d, %s", r.code, r.stderr)
	}
}

func TestCLIMigrateIsIdempotentAndConcurrent(t *testing.T) {
	// Two processes migrate three fresh databases at once, then once more.
	s := stack
	ctx := context.Background()
	var env []string
	for _, name := range config.RequiredDatabases {
		db := "fedsaga_mig_" + strings.ReplaceAll(uniq(t, name), "-", "_")
		db = strings.ToLower(db)
		if err := s.admin(ctx, "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.admin(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
		env = append(env, "FEDSAGA_DATABASES__"+strings.ToUpper(name)+"__URL="+withDatabase(s.adminURL, db))
	}
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = fedsaga(t, env, "migrate")
		}()
	}
	wg.Wait()
	applied := 0
	for _, r := range results {
		if r.code != 0 {
			t.Fatalf("concurrent migrate: exit %d\n%s", r.code, r.stderr)
		}
		applied += len(migratedNow.FindAllString(r.stdout, -1))
	}
	if applied != 3 {
		t.Errorf("migrations applied %d times across both processes, want each database once:\n%s\n%s", applied, results[0].stdout, results[1].stdout)
	}
	r := fedsaga(t, env, "migrate")
	if r.code != 0 || strings.Count(r.stdout, "(0 applied now)") != 3 {
		t.Errorf("second migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestCLISeed(t *testing.T) {
	r := fedsaga(t, nil, "seed")
	if r.code != 0 {
		t.Fatalf("seed: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"WIDGET", "GIZMO-LTD", "alice", "bob"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("seed output lacks %s:\n%s", want, r.stdout)
		}
	}
	if got := stack.count(t, "inventory", `SELECT count(*) FROM tb_product WHERE sku IN ('WIDGET', 'GADGET', 'GIZMO-LTD')`); got != 3 {
		t.Errorf("demo products = %d, want 3", got)
	}
	r = fedsaga(t, nil, "seed")
	if r.code != 0 || !strings.Contains(r.stdout, "already there") {
		t.Errorf("second seed: exit %d\n%s", r.code, r.stdout)
	}
}

func TestCLIWorkerStopsGracefully(t *testing.T) {
	// With --cpu-profile, the profile of the run is complete once the
	// worker has stopped.
	profile := filepath.Join(t.TempDir(), "worker.cpu.pprof")
	cmd := exec.Command(fedsagaBin(t), "--config", stack.ConfigPath, "worker", "--cpu-profile", profile)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "worker started") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("worker did not start:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if err != nil {
		t.Fatalf("worker exited with %v after SIGTERM:\n%s", err, stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("worker took %s to stop", d)
	}
	if !strings.Contains(stderr.String(), "worker stopped") {
		t.Errorf("no 'worker stopped' line:\n%s", stderr.String())
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", fedsagaBin(t), profile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Type: cpu") {
		t.Errorf("go tool pprof cannot read the worker's CPU profile: %v\n%s", err, out)
	}
}

// syncBuffer is a bytes.Buffer that a child process writes while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCLIOutputJSON: the commands that print data print JSON with --output
// json, and --json stays a way to say it on saga status and saga list.
func TestCLIOutputJSON(t *testing.T) {
	p := stack.addProduct(t, 500, 5)
	customer := stack.addCustomer(t, 10_000)
	orderID := uniq(t, "ord")
	r := fedsaga(t, nil, "order", "place", "--customer", customer, "--item", p.SKU+"=1", "--order-id", orderID, "--wait", "--output", "text")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "order "+orderID+": confirmed") {
		t.Fatalf("order place --wait --output text: exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	decode := func(args ...string) any {
		t.Helper()
		r := fedsaga(t, nil, args...)
		var v any
		if r.code != 0 {
			t.Fatalf("fedsaga %v: exit %d: %s", args, r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("fedsaga %v: stdout %q is not one JSON value: %v", args, r.stdout, err)
		}
		return v
	}
	for _, flag := range []string{"--output=json", "--json"} {
		st, _ := decode("saga", "status", orderID, flag).(map[string]any)
		if st["status"] != "completed" {
			t.Errorf("saga status %s: %v, want status completed", flag, st)
		}
		list, _ := decode("saga", "list", "--status", "completed", "--limit", "1000", flag).([]any)
		if len(list) == 0 {
			t.Errorf("saga list %s: empty", flag)
		}
	}
	started, _ := decode("order", "place", "--customer", customer, "--item", p.SKU+"=1", "--output", "json").(map[string]any)
	if started["workflow_id"] != "order-"+started["order_id"].(string) {
		t.Errorf("order place --output json: %v, want order_id and workflow_id", started)
	}
	checks, _ := decode("health", "--output", "json").([]any)
	names := map[string]bool{}
	for _, c := range checks {
		c, _ := c.(map[string]any)
		if c["ok"] != true {
			t.Errorf("health --output json: %v is not ok", c)
		}
		names[fmt.Sprint(c["name"])] = true
	}
	for _, want := range []string{"orders", "inventory", "payments", "temporal", "nats", "stream ORDERS", "stream ORDERS_PARTITIONS", "consumer stack-audit-p0"} {
		if !names[want] {
			t.Errorf("health --output json: %v, want a check %q (the three databases, temporal, nats, each stream and consumer)", checks, want)
		}
	}
	rows, _ := decode("seed", "--output", "json").([]any)
	migrated, _ := decode("migrate", "--output", "json").([]any)
	cfg, _ := decode("config", "print", "--output", "json").(map[string]any)
	if len(rows) != 5 || len(migrated) != 3 || cfg["temporal"] == nil {
		t.Errorf("seed, migrate, config print --output json: %v\n%v\n%v", rows, migrated, cfg)
	}
}
