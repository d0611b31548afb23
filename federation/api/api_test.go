package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/api"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
	"github.com/fedsaga/fedsaga/server"
)

// logBuffer collects the log lines of a test's servers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// errorLines returns the lines logged at error level.
func (b *logBuffer) errorLines(t *testing.T) []map[string]any {
	var out []map[string]any
	for _, l := range b.lines(t) {
		if l["level"] == "error" {
			out = append(out, l)
		}
	}
	return out
}

// apiTest is the read API of a test, started as `fedsaga serve` starts it.
type apiTest struct {
	svc  *api.Service
	base string // http://host:port of the API
	log  *logBuffer
	reg  *pg.Registry
}

// start serves the read API over dbs with the default configuration,
// loopback listeners on free ports, no authentication, page sizes 2 and 100,
// after mutate changed it.
func start(t *testing.T, dbs map[string]config.Database, mutate func(*config.Federation)) *apiTest {
	t.Helper()
	log := &logBuffer{}
	logger := zerolog.New(log).Level(zerolog.DebugLevel)
	reg, err := pg.Open(dbs, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	cfg := config.Default().Federation
	cfg.HTTPAddress, cfg.API.MetricsAddress, cfg.API.Auth = "127.0.0.1:0", "127.0.0.1:0", config.APIAuthNone
	cfg.DefaultPageSize, cfg.MaxPageSize = 2, 100
	if mutate != nil {
		mutate(&cfg)
	}
	reader, err := federation.NewReader(reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := api.Start(cfg, reader, server.Metrics(reg), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Shutdown(time.Second) })
	scheme := "http"
	if cfg.API.TLS.CertFile != "" {
		scheme = "https"
	}
	return &apiTest{svc: svc, base: scheme + "://" + svc.API.Addr(), log: log, reg: reg}
}

// response is an answer of the API.
type response struct {
	code   int
	header http.Header
	raw    string
	body   map[string]any
}

// errField is a field of an error body.
func (r response) errField(field string) string {
	e, _ := r.body["error"].(map[string]any)
	v, _ := e[field].(string)
	return v
}

func do(t *testing.T, client *http.Client, req *http.Request) response {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{code: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s: body is not JSON: %v\n%s", req.URL, err, raw)
		}
	}
	return r
}

func get(t *testing.T, url string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, nil, req)
}

func TestReadAPI(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	d := pgtest.SeedOrders(t, dbs, 5)
	s := start(t, dbs, nil)
	base := s.base

	r := get(t, base+"/v1/orders")
	if r.code != 200 || len(r.body["orders"].([]any)) != 2 || r.body["next"] == "" {
		t.Fatalf("GET /v1/orders: %d %s", r.code, r.raw)
	}
	r = get(t, base+"/v1/orders?limit=3&after="+r.body["next"].(string))
	if orders := r.body["orders"].([]any); r.code != 200 || len(orders) != 3 || orders[0].(map[string]any)["id"] != d.IDs[2] || r.body["next"] != nil {
		t.Errorf("second and last page: %d %s", r.code, r.raw)
	}
	r = get(t, base+"/v1/orders/"+d.IDs[1])
	items, _ := r.body["items"].([]any)
	if r.code != 200 || r.body["id"] != d.IDs[1] || len(items) != 2 || r.body["payment"] == nil {
		t.Errorf("GET /v1/orders/{id}: %d %s", r.code, r.raw)
	}
	r = get(t, base+"/v1/products?ids="+d.Products[0]+",ghost,"+d.Products[0])
	if r.code != 200 || len(r.body["products"].([]any)) != 1 || fmt.Sprint(r.body["missing"]) != "[ghost]" {
		t.Errorf("GET /v1/products: %d %s", r.code, r.raw)
	}

	for _, tc := range []struct {
		path, param string
	}{
		{"/v1/orders?limit=0", "limit"}, {"/v1/orders?limit=101", "limit"}, {"/v1/orders?limit=ten", "limit"},
		{"/v1/orders?after=garbage!", "after"}, {"/v1/products", "ids"}, {"/v1/products?ids=,,", "ids"},
	} {
		r := get(t, base+tc.path)
		if r.code != 400 || r.errField("code") != "BAD_REQUEST" || r.errField("parameter") != tc.param || !strings.Contains(r.errField("message"), tc.param) {
			t.Errorf("GET %s: %d %s, want 400 BAD_REQUEST naming %s", tc.path, r.code, r.raw, tc.param)
		}
	}
	if r := get(t, base+"/v1/orders/no-such-order"); r.code != 404 || r.errField("code") != "NOT_FOUND" || !strings.Contains(r.errField("message"), "no-such-order") {
		t.Errorf("unknown order: %d %s", r.code, r.raw)
	}
	if r := get(t, base+"/v1/nothing-here"); r.code != 404 || r.errField("code") != "NOT_FOUND" {
		t.Errorf("unknown path: %d %s", r.code, r.raw)
	}

	// /metrics is on its own listener, not on the API's.
	if r := get(t, base+"/metrics"); r.code != 404 {
		t.Errorf("GET /metrics on the API listener: %d, want 404", r.code)
	}
	r = get(t, "http://"+s.svc.Metrics.Addr()+"/metrics")
	if !strings.Contains(r.raw, `fedsaga_database_pool_active{database="inventory",pool="read-5s"}`) {
		t.Errorf("/metrics lacks the inventory read pool:\n%s", r.raw)
	}
	if lines := s.log.errorLines(t); len(lines) > 0 {
		t.Errorf("bad requests were logged at error level: %v", lines)
	}
}

// TestReadAPIErrorBodies: a failed read answers with a stable code, a
// message that names the database but not its host, port, user, database
// name or any configuration key, and a request id under which the log
// holds the cause.
func TestReadAPIErrorBodies(t *testing.T) {
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	d := pgtest.SeedOrders(t, dbs, 2)

	// A database that cannot be reached: 503 DATABASE_UNAVAILABLE.
	down := map[string]config.Database{}
	for name, db := range dbs {
		down[name] = db
	}
	payments := down[config.PaymentsDB]
	payments.URL, payments.PoolTimeout = "postgres://secretuser@127.0.0.1:1/hiddendb?sslmode=disable&connect_timeout=1", time.Second
	down[config.PaymentsDB] = payments
	s := start(t, down, nil)
	req, _ := http.NewRequest(http.MethodGet, s.base+"/v1/orders/"+d.IDs[1], nil)
	req.Header.Set("X-Request-Id", "trace-42")
	r := do(t, nil, req)
	if r.code != 503 || r.errField("code") != "DATABASE_UNAVAILABLE" || r.errField("database") != "payments" || r.errField("request_id") != "trace-42" ||
		r.header.Get("X-Request-Id") != "trace-42" {
		t.Errorf("payments down: %d %s, want 503 DATABASE_UNAVAILABLE naming payments, request id trace-42", r.code, r.raw)
	}
	for _, leak := range []string{"127.0.0.1", ":1", "secretuser", "hiddendb", "postgres", "databases.", "url", "health"} {
		if strings.Contains(r.raw, leak) {
			t.Errorf("503 body reveals %q: %s", leak, r.raw)
		}
	}
	var logged bool
	for _, l := range s.log.errorLines(t) {
		if l["request_id"] == "trace-42" && strings.Contains(fmt.Sprint(l["cause"]), "DatabaseConnectionError") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no error-level log line with request id trace-42 and the cause:\n%v", s.log.lines(t))
	}

	// A database that times out: 504 FEDERATION_TIMEOUT.
	slow := start(t, dbs, func(f *config.Federation) {
		f.DatabaseTimeouts = map[string]time.Duration{"inventory": 200 * time.Millisecond}
	})
	lock, err := pg.Open(map[string]config.Database{"inventory": dbs["inventory"]}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	inv, _ := lock.DB("inventory")
	tx, err := inv.Pool().Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `LOCK TABLE tb_product IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	r = get(t, slow.base+"/v1/products?ids="+d.Products[0])
	if r.code != 504 || r.errField("code") != "FEDERATION_TIMEOUT" || r.errField("database") != "inventory" || len(r.errField("request_id")) < 16 ||
		r.header.Get("X-Request-Id") != r.errField("request_id") {
		t.Errorf("slow inventory: %d %s, want 504 FEDERATION_TIMEOUT naming inventory with a generated request id", r.code, r.raw)
	}
	for _, leak := range []string{"federation.", "database_timeouts", "log_slow_queries", "200ms", "fedsaga_pgtest"} {
		if strings.Contains(r.raw, leak) {
			t.Errorf("504 body reveals %q: %s", leak, r.raw)
		}
	}
}

// TestReadAPIRequestID: a caller's X-Request-Id is kept when it is short
// and plain, and replaced otherwise.
func TestReadAPIRequestID(t *testing.T) {
	s := start(t, pgtest.Databases(t, config.RequiredDatabases...), nil)
	for _, tc := range []struct{ in, want string }{
		{"abc-123_X.y", "abc-123_X.y"},
		{"", ""},
		{strings.Repeat("a", 65), ""},
		{"two words", ""},
		{"caf\u00e9", ""}, {"a;b=c", ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/v1/orders?limit=0", nil)
		req.Header["X-Request-Id"] = []string{tc.in}
		r := do(t, nil, req)
		got := r.header.Get("X-Request-Id")
		if tc.want != "" && got != tc.want || tc.want == "" && (got == tc.in || len(got) < 16 || len(got) > 64) || r.errField("request_id") != got {
			t.Errorf("X-Request-Id %q: answered %q (body %q)", tc.in, got, r.errField("request_id"))
		}
	}
}
