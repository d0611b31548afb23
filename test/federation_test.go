package test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
)

// fedData is a set of orders written straight into the three databases:
// every order has two items; even orders a reservation and a payment.
type fedData struct {
	prefix   string
	products []product
	orders   []string
}

// seedOrders writes n orders (and their items, reservations and payments).
func (s *Stack) seedOrders(t testing.TB, n int) fedData {
	t.Helper()
	ctx := context.Background()
	d := fedData{prefix: strings.ReplaceAll(uniq(t, "fed"), "/", "-")}
	inv := s.pool(t, "inventory")
	for i := range 3 {
		p := product{ID: fmt.Sprintf("%s-p%d", d.prefix, i), SKU: fmt.Sprintf("SKU-%s-%d", d.prefix, i), PriceCents: int64(100 * (i + 1))}
		if _, err := inv.Exec(ctx, `INSERT INTO tb_product (id, sku, name, price_cents, stock) VALUES ($1, $2, $3, $4, 1000)`,
			p.ID, p.SKU, "Product "+p.ID, p.PriceCents); err != nil {
			t.Fatal(err)
		}
		d.products = append(d.products, p)
	}
	for i := range n {
		d.orders = append(d.orders, fmt.Sprintf("%s-o%05d", d.prefix, i))
	}
	steps := []struct {
		db, sql string
	}{
		{"orders", `INSERT INTO tb_order (id, customer_id, status, total_cents) SELECT o, 'cust', 'confirmed', 300 FROM unnest($1::text[]) o`},
		{"orders", `INSERT INTO tb_order_item (order_id, product_id, sku, name, quantity, price_cents)
			SELECT o, $2 || '-p' || k, 'SKU-' || $2 || '-' || k, 'x', 1, 100 * (k + 1) FROM unnest($1::text[]) o, generate_series(0, 1) k`},
		{"inventory", `INSERT INTO tb_reservation (order_id, product_id, quantity, status)
			SELECT o, $2 || '-p0', 1, 'reserved' FROM unnest($1::text[]) WITH ORDINALITY AS u(o, n) WHERE n % 2 = 0`},
		{"payments", `INSERT INTO tb_account (customer_id, balance_cents) VALUES ('cust', 0) ON CONFLICT DO NOTHING`},
		{"payments", `INSERT INTO tb_transaction (order_id, customer_id, amount_cents, status)
			SELECT o, 'cust', 300, 'charged' FROM unnest($1::text[]) WITH ORDINALITY AS u(o, n) WHERE n % 2 = 0`},
	}
	for _, st := range steps {
		args := []any{d.orders, d.prefix}
		if strings.Count(st.sql, "$") == 1 {
			args = args[:1]
		} else if !strings.Contains(st.sql, "$1") {
			args = nil
		}
		if _, err := s.pool(t, st.db).Exec(ctx, st.sql, args...); err != nil {
			t.Fatalf("%s: %v", st.sql, err)
		}
	}
	// Fresh statistics, as autovacuum keeps them in a running system.
	for _, db := range []string{"orders", "inventory", "payments"} {
		if _, err := s.pool(t, db).Exec(ctx, "ANALYZE"); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (s *Stack) reader(t testing.TB, mutate func(*config.Federation)) *federation.Reader {
	t.Helper()
	cfg := s.Config.Federation
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := federation.NewReader(s.DBs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (s *Stack) stats(t testing.TB) map[string]federation.QueryStats {
	out := map[string]federation.QueryStats{}
	for _, name := range []string{"orders", "inventory", "payments"} {
		db, _ := s.DBs.DB(name)
		out[name] = db.Stats()
	}
	return out
}

func TestFederatedPageCostsConstantQueries(t *testing.T) {
	s := stack
	s.seedOrders(t, 1000)
	r := s.reader(t, nil)
	ctx := context.Background()
	// One data query per relation level and database: orders (orders,
	// items), inventory (reservations, products), payments (payments).
	want := map[string]int64{"orders": 2, "inventory": 2, "payments": 1}
	var statements map[string]int64
	for _, size := range []int{1, 10, 100, 1000} {
		before := s.stats(t)
		orders, _, err := r.Page(ctx, nil, size)
		if err != nil {
			t.Fatal(err)
		}
		if len(orders) != size {
			t.Fatalf("page of %d: %d orders", size, len(orders))
		}
		after := s.stats(t)
		got := map[string]int64{}
		all := map[string]int64{}
		for db := range want {
			got[db] = after[db].Reads - before[db].Reads
			all[db] = after[db].Statements - before[db].Statements
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("page of %d: reads per database %v, want %v", size, got, want)
		}
		if statements == nil {
			statements = all
		} else if fmt.Sprint(all) != fmt.Sprint(statements) {
			t.Errorf("page of %d: statements per database %v, page of 1: %v", size, all, statements)
		}
	}
}

func TestFederatedOrderCarriesEveryDatabase(t *testing.T) {
	s := stack
	d := s.seedOrders(t, 4)
	r := s.reader(t, nil)
	even, odd := d.orders[1], d.orders[0] // WITH ORDINALITY counts from 1
	o, err := r.Order(context.Background(), even)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Items) != 2 || o.Items[0].Product == nil || o.Items[0].Product.Name != "Product "+d.products[0].ID ||
		len(o.Reservations) != 1 || o.Reservations[0].Status != "reserved" || o.Payment == nil || o.Payment.Status != "charged" {
		t.Errorf("order %+v", o)
	}
	o, err = r.Order(context.Background(), odd)
	if err != nil || o.Payment != nil || len(o.Reservations) != 0 || len(o.Items) != 2 {
		t.Errorf("order without payment: %+v, %v", o, err)
	}
	if _, err := r.Order(context.Background(), "no-such-order"); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("unknown order: %v", err)
	}
	// Products by id: in key order, duplicates once, missing told apart.
	rows, err := r.Products(context.Background(), []string{d.products[2].ID, "ghost", d.products[0].ID, d.products[2].ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || !rows[0].Found || rows[1].Found || rows[2].Values[0].ID != d.products[0].ID || rows[3].Key != d.products[2].ID {
		t.Errorf("rows %+v", rows)
	}
}

func TestFederationTimeoutCancelsOnTheServer(t *testing.T) {
	s := stack
	db, _ := s.DBs.DB("inventory")
	l := &federation.Loader[string, string]{
		DB:       db,
		Timeouts: federation.Timeouts{Default: 5 * time.Second, PerDatabase: map[string]time.Duration{"inventory": 300 * time.Millisecond}},
		Query:    `SELECT x, x FROM unnest($1::text[]) x, pg_sleep(5) /* fedsaga-timeout-test */`,
		Scan: func(row pgx.CollectableRow) (string, string, error) {
			var k, v string
			err := row.Scan(&k, &v)
			return k, v, err
		},
	}
	start := time.Now()
	_, err := l.Load(context.Background(), []string{"a"})
	var te *federation.FederationTimeoutError
	if !errors.As(err, &te) || te.Database != "inventory" || te.Timeout != 300*time.Millisecond ||
		!strings.Contains(err.Error(), "within 300ms") || !strings.Contains(err.Error(), "[federation.database_timeouts] inventory") {
		t.Fatalf("err = %v, want FederationTimeoutError for inventory after 300ms", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timed out after %s", d)
	}
	var running int64
	if err := s.pool(t, "inventory").QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%fedsaga-timeout-test%' AND pid <> pg_backend_pid()`).Scan(&running); err != nil {
		t.Fatal(err)
	}
	if running != 0 {
		t.Errorf("%d timed-out queries still running on the server", running)
	}
}

func TestFederationTimeoutWhenTheDatabaseStopsAnswering(t *testing.T) {
	// The server's statement_timeout cannot help when its answer never
	// arrives (a network partition, a frozen host): the read's own deadline
	// must end the wait.
	cfg := stack.Config.Databases["inventory"]
	proxy, proxied := newFreezeProxy(t, cfg.URL)
	cfg.URL = proxied
	reg, err := federation.Open(map[string]config.Database{"inventory": cfg}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	defer proxy.close() // first: a pool closes its frozen connection only once it is dropped
	db, _ := reg.DB("inventory")
	l := &federation.Loader[string, string]{
		DB:       db,
		Timeouts: federation.Timeouts{Default: 300 * time.Millisecond},
		Query:    `SELECT x, x FROM unnest($1::text[]) x`,
		Scan: func(row pgx.CollectableRow) (string, string, error) {
			var k, v string
			err := row.Scan(&k, &v)
			return k, v, err
		},
	}
	if _, err := l.Load(context.Background(), []string{"a"}); err != nil {
		t.Fatalf("load through the proxy: %v", err)
	}
	proxy.freeze() // the pooled connection stays open; its answers stop
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // the caller's patience, far longer
	defer cancel()
	_, err = l.Load(ctx, []string{"b"})
	var te *federation.FederationTimeoutError
	if !errors.As(err, &te) || te.Database != "inventory" || te.Timeout != 300*time.Millisecond {
		t.Fatalf("err = %v, want FederationTimeoutError for inventory", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("gave up after %s, want about 300ms + 250ms", d)
	}
}

func TestPoolExhausted(t *testing.T) {
	cfg := stack.Config.Databases["inventory"]
	cfg.PoolSize, cfg.PoolTimeout = 1, 200*time.Millisecond
	reg, err := federation.Open(map[string]config.Database{"inventory": cfg}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	db, _ := reg.DB("inventory")
	held, err := db.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	start := time.Now()
	_, err = db.Acquire(context.Background())
	var pe *federation.PoolExhaustedError
	if !errors.As(err, &pe) || pe.Database != "inventory" || !strings.Contains(err.Error(), "pool_size") {
		t.Fatalf("err = %v, want PoolExhaustedError", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > time.Second {
		t.Errorf("gave up after %s, want pool_timeout 200ms", d)
	}
}

func TestRelationCycleRefusedAtLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cycle.toml")
	cfg := `
[databases.orders]
url = "postgres://h/o"
[databases.inventory]
url = "postgres://h/i"
[databases.payments]
url = "postgres://h/p"
[federation.relations.ordered_by]
from = "product"
to = "order"
`
	os.WriteFile(path, []byte(cfg), 0o600)
	_, err := config.Load(path)
	var cycle *config.CircularReferenceError
	if !errors.As(err, &cycle) || !strings.Contains(err.Error(), "item → product → order → item") || fmt.Sprint(cycle.Path) != "[item product order item]" {
		t.Fatalf("err = %v, want CircularReferenceError with the path", err)
	}
}

func TestCursorWalkSeesEveryOrderOnce(t *testing.T) {
	s := stack
	s.seedOrders(t, 300)
	r := s.reader(t, nil)
	ctx := context.Background()
	var before []string
	rows, err := s.pool(t, "orders").Query(ctx, `SELECT id FROM tb_order`)
	if err != nil {
		t.Fatal(err)
	}
	before, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}

	// New orders arrive during the walk.
	stop := make(chan struct{})
	var inserted atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("walk-%d-%d", time.Now().UnixNano(), i)
			if _, err := s.pool(t, "orders").Exec(ctx, `INSERT INTO tb_order (id, customer_id, status, total_cents) VALUES ($1, 'c', 'pending', 0)`, id); err == nil {
				inserted.Add(1)
			}
		}
	}()
	seen := map[string]int{}
	var after *federation.Cursor
	for pages := 0; ; pages++ {
		orders, next, err := r.Page(ctx, after, 37)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range orders {
			seen[o.ID]++
		}
		if next == nil || pages > 10000 {
			break
		}
		after = next
	}
	close(stop)
	wg.Wait()
	for _, id := range before {
		if seen[id] != 1 {
			t.Errorf("order %s seen %d times, want once", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("order %s seen %d times", id, n)
		}
	}
	if inserted.Load() == 0 {
		t.Error("no order was inserted during the walk")
	}
}

func TestReadAPI(t *testing.T) {
	s := stack
	d := s.seedOrders(t, 5)
	api := &federation.API{Reader: s.reader(t, nil), DefaultPageSize: 2, MaxPageSize: 100, Logger: zerolog.Nop()}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	get := func(path string) (int, map[string]any) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: body is not JSON: %v", path, err)
		}
		return resp.StatusCode, body
	}
	errField := func(body map[string]any, field string) string {
		e, _ := body["error"].(map[string]any)
		v, _ := e[field].(string)
		return v
	}

	code, body := get("/v1/orders")
	if code != 200 || len(body["orders"].([]any)) != 2 || body["next"] == "" {
		t.Errorf("GET /v1/orders: %d %v", code, body)
	}
	code, body = get("/v1/orders?limit=2&after=" + body["next"].(string))
	if code != 200 || len(body["orders"].([]any)) != 2 {
		t.Errorf("second page: %d %v", code, body)
	}
	code, body = get("/v1/orders/" + d.orders[1])
	items, _ := body["items"].([]any)
	if code != 200 || body["id"] != d.orders[1] || len(items) != 2 || body["payment"] == nil {
		t.Errorf("GET /v1/orders/{id}: %d %v", code, body)
	}
	code, body = get("/v1/products?ids=" + d.products[0].ID + ",ghost")
	if code != 200 || len(body["products"].([]any)) != 1 || fmt.Sprint(body["missing"]) != "[ghost]" {
		t.Errorf("GET /v1/products: %d %v", code, body)
	}

	for _, tc := range []struct {
		path, param string
	}{
		{"/v1/orders?limit=0", "limit"}, {"/v1/orders?limit=101", "limit"}, {"/v1/orders?limit=ten", "limit"},
		{"/v1/orders?after=garbage!", "after"}, {"/v1/products", "ids"}, {"/v1/products?ids=,,", "ids"},
	} {
		code, body := get(tc.path)
		if code != 400 || errField(body, "parameter") != tc.param || !strings.Contains(errField(body, "message"), tc.param) {
			t.Errorf("GET %s: %d %v, want 400 naming %s", tc.path, code, body, tc.param)
		}
	}
	if code, body := get("/v1/orders/no-such-order"); code != 404 || !strings.Contains(errField(body, "message"), "no-such-order") {
		t.Errorf("unknown order: %d %v", code, body)
	}

	// A database that cannot be reached: 503 naming it.
	dbs := map[string]config.Database{}
	for name, db := range s.Config.Databases {
		dbs[name] = db
	}
	down := dbs["payments"]
	down.URL, down.PoolTimeout = "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1", time.Second
	dbs["payments"] = down
	reg, err := federation.Open(dbs, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	downReader, err := federation.NewReader(reg, s.Config.Federation)
	if err != nil {
		t.Fatal(err)
	}
	downSrv := httptest.NewServer((&federation.API{Reader: downReader, DefaultPageSize: 2, MaxPageSize: 100, Logger: zerolog.Nop()}).Handler())
	defer downSrv.Close()
	resp503, err := http.Get(downSrv.URL + "/v1/orders/" + d.orders[1])
	if err != nil {
		t.Fatal(err)
	}
	var b503 map[string]any
	json.NewDecoder(resp503.Body).Decode(&b503)
	resp503.Body.Close()
	if resp503.StatusCode != 503 || errField(b503, "database") != "payments" || !strings.Contains(errField(b503, "message"), "DatabaseConnectionError") {
		t.Errorf("payments down: %d %v, want 503 naming payments", resp503.StatusCode, b503)
	}

	// A database that times out: 504 naming it.
	slow := &federation.API{Reader: s.reader(t, func(f *config.Federation) {
		f.DatabaseTimeouts = map[string]time.Duration{"inventory": 200 * time.Millisecond}
	}), DefaultPageSize: 2, MaxPageSize: 100, Logger: zerolog.Nop()}
	slowSrv := httptest.NewServer(slow.Handler())
	defer slowSrv.Close()
	tx, err := s.pool(t, "inventory").Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `LOCK TABLE tb_product IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(slowSrv.URL + "/v1/products?ids=" + d.products[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b map[string]any
	json.NewDecoder(resp.Body).Decode(&b)
	if resp.StatusCode != 504 || errField(b, "database") != "inventory" || !strings.Contains(errField(b, "message"), "FederationTimeoutError") {
		t.Errorf("slow inventory: %d %v, want 504 naming inventory", resp.StatusCode, b)
	}
}

func TestSlowQueriesLoggedWithoutParameters(t *testing.T) {
	cfg := stack.Config.Databases["inventory"]
	cfg.LogSlowQueries = 5 * time.Millisecond
	var logs syncBuffer
	reg, err := federation.Open(map[string]config.Database{"inventory": cfg}, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	db, _ := reg.DB("inventory")
	var out string
	if err := db.Pool().QueryRow(context.Background(), `SELECT $1::text FROM pg_sleep(0.02)`, "s3cret-param").Scan(&out); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool().QueryRow(context.Background(), `SELECT 'fast'`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	line := logs.String()
	for _, want := range []string{`"message":"slow query"`, `"database":"inventory"`, `"duration":`, `pg_sleep(0.02)`} {
		if !strings.Contains(line, want) {
			t.Errorf("slow-query log lacks %s:\n%s", want, line)
		}
	}
	if strings.Contains(line, "s3cret-param") || strings.Contains(line, "'fast'") {
		t.Errorf("slow-query log shows a parameter value or a fast query:\n%s", line)
	}
}
