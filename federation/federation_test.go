package federation_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
)

// env is fresh orders, inventory and payments databases and their pools.
type env struct {
	cfg map[string]config.Database
	reg *pg.Registry
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	cfg := pgtest.Databases(tb, config.RequiredDatabases...)
	reg, err := pg.Open(cfg, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(reg.Close)
	return &env{cfg: cfg, reg: reg}
}

func (e *env) db(tb testing.TB, name string) *pg.DB {
	db, err := e.reg.DB(name)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func (e *env) reader(tb testing.TB, mutate func(*config.Federation)) *federation.Reader {
	tb.Helper()
	cfg := config.Default().Federation
	if mutate != nil {
		mutate(&cfg)
	}
	r, err := federation.NewReader(e.reg, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// reads counts the read statements per database from now on.
func (e *env) reads(tb testing.TB) func() map[string]int64 {
	before := map[string]pg.QueryStats{}
	for _, name := range config.RequiredDatabases {
		before[name] = e.db(tb, name).Stats()
	}
	return func() map[string]int64 {
		out := map[string]int64{}
		for _, name := range config.RequiredDatabases {
			out[name] = e.db(tb, name).Stats().Reads - before[name].Reads
		}
		return out
	}
}

// pair is a loader of (key, key) rows from unnest($1), for loads that only
// need the database to answer.
func pair(db *pg.DB, t federation.Timeouts, query string) *federation.Loader[string, string] {
	return &federation.Loader[string, string]{DB: db, Timeouts: t, Query: query,
		Scan: func(v *string) []any { return []any{v} }}
}

func TestLoaderChunksInKeyOrderOnceEach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := pgtest.SeedOrders(t, e.cfg, 3)
	inv := e.db(t, config.InventoryDB)
	l := &federation.Loader[string, string]{DB: inv, BatchSize: 2,
		Query: `SELECT id, name FROM tb_product WHERE id = ANY($1)`,
		Scan:  func(name *string) []any { return []any{name} }}
	p0, p1, p2 := d.Products[0], d.Products[1], d.Products[2]
	keys := []string{p2, "ghost", p0, p2, p1, p0}
	reads := e.reads(t)
	rows, err := l.Load(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	// Four distinct keys, two per query: two queries.
	if got := reads()[config.InventoryDB]; got != 2 {
		t.Errorf("%d queries for 4 distinct keys in chunks of 2, want 2", got)
	}
	if len(rows) != len(keys) {
		t.Fatalf("%d rows for %d keys", len(rows), len(keys))
	}
	for i, k := range keys {
		row := rows[i]
		want := []string{"Product " + k}
		if k == "ghost" {
			want = nil
		}
		if row.Key != k || row.Found != (k != "ghost") || fmt.Sprint(row.Values) != fmt.Sprint(want) {
			t.Errorf("rows[%d] = %+v, want key %s values %v", i, row, k, want)
		}
	}

	// One-to-many: a key's rows come together, in query order.
	items := &federation.Loader[string, string]{DB: e.db(t, config.OrdersDB),
		Query: `SELECT order_id, product_id FROM tb_order_item WHERE order_id = ANY($1) ORDER BY order_id, product_id`,
		Scan:  func(v *string) []any { return []any{v} }}
	rows, err = items.Load(context.Background(), []string{d.IDs[2], d.IDs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rows[0].Values) != fmt.Sprint([]string{p0, p1}) || rows[1].Key != d.IDs[0] || len(rows[1].Values) != 2 {
		t.Errorf("one-to-many rows %+v", rows)
	}

	// No keys: no query at all.
	reads = e.reads(t)
	if rows, err := l.Load(context.Background(), nil); err != nil || len(rows) != 0 || reads()[config.InventoryDB] != 0 {
		t.Errorf("no keys: %v, %v, %d queries", rows, err, reads()[config.InventoryDB])
	}
}

func TestLoaderFailedIsNotNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	l := pair(e.db(t, config.InventoryDB), federation.Timeouts{}, `SELECT x, x FROM unnest($1::text[]) x JOIN no_such_table ON true`)
	rows, err := l.Load(context.Background(), []string{"a"})
	var pgErr *pgconn.PgError
	if rows != nil || !errors.As(err, &pgErr) || pgErr.Code != "42P01" || !strings.Contains(err.Error(), "load from inventory") {
		t.Errorf("Load = %v, %v; want no rows and the database's error, naming inventory", rows, err)
	}
}

func TestFederatedPageCostsConstantQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pgtest.SeedOrders(t, e.cfg, 1000)
	r := e.reader(t, nil)
	// One data query per relation level and database: orders (orders,
	// items), inventory (reservations, products), payments (payments).
	want := map[string]int64{config.OrdersDB: 2, config.InventoryDB: 2, config.PaymentsDB: 1}
	for _, size := range []int{1, 10, 100, 1000} {
		reads := e.reads(t)
		orders, _, err := r.Page(context.Background(), nil, size)
		if err != nil {
			t.Fatal(err)
		}
		if len(orders) != size {
			t.Fatalf("page of %d: %d orders", size, len(orders))
		}
		if got := reads(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("page of %d: reads per database %v, want %v", size, got, want)
		}
	}
}

func TestFederatedOrderCarriesEveryDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := pgtest.SeedOrders(t, e.cfg, 4)
	r := e.reader(t, nil)
	ctx := context.Background()
	o, err := r.Order(ctx, d.IDs[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Items) != 2 || o.Items[0].Product == nil || o.Items[0].Product.Name != "Product "+d.Products[0] ||
		len(o.Reservations) != 1 || o.Reservations[0].Status != "reserved" || o.Payment == nil || o.Payment.Status != "charged" {
		t.Errorf("order %+v", o)
	}
	o, err = r.Order(ctx, d.IDs[0])
	if err != nil || o.Payment != nil || len(o.Reservations) != 0 || len(o.Items) != 2 {
		t.Errorf("order without payment: %+v, %v", o, err)
	}
	if _, err := r.Order(ctx, "no-such-order"); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("unknown order: %v", err)
	}
	// Relations not declared stay empty, and cost no query.
	bare := e.reader(t, func(f *config.Federation) {
		f.Relations = map[string]config.Relation{"items": {From: "order", To: "item"}}
	})
	reads := e.reads(t)
	o, err = bare.Order(ctx, d.IDs[1])
	if err != nil || len(o.Items) != 2 || o.Items[0].Product != nil || o.Payment != nil || len(o.Reservations) != 0 {
		t.Errorf("order with items only: %+v, %v", o, err)
	}
	if got := reads(); got[config.InventoryDB]+got[config.PaymentsDB] != 0 {
		t.Errorf("reads %v for an order with items only", got)
	}
	customers, err := r.Customers(ctx, []string{"ghost", "cust"})
	if err != nil || customers[0].Found || !customers[1].Found {
		t.Errorf("Customers = %+v, %v", customers, err)
	}
	products, err := r.ProductsBySKU(ctx, []string{"SKU-" + d.Products[2]})
	if err != nil || !products[0].Found || products[0].Values[0].ID != d.Products[2] || products[0].Values[0].PriceCents != 300 {
		t.Errorf("ProductsBySKU = %+v, %v", products, err)
	}
}

func TestNewReaderRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := config.Default().Federation
	cfg.Relations = map[string]config.Relation{"pay": {From: "item", To: "payment"}}
	if _, err := federation.NewReader(e.reg, cfg); err == nil || !strings.Contains(err.Error(), "federation.relations.pay: fedsaga cannot load item → payment") {
		t.Errorf("item → payment: %v", err)
	}
	only, err := pg.Open(map[string]config.Database{"orders": e.cfg["orders"]}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	if _, err := federation.NewReader(only, config.Default().Federation); !errors.Is(err, pg.ErrUnknownDatabase) ||
		!strings.Contains(err.Error(), `"inventory"`) || !strings.Contains(err.Error(), `"payments"`) {
		t.Errorf("missing databases: %v", err)
	}
}

func TestFederationTimeoutCancelsOnTheServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The client waits far longer than the server (Grace), so that on a
	// loaded machine too the server's cancellation is what ends the read.
	l := pair(e.db(t, config.InventoryDB), federation.Timeouts{Default: 5 * time.Second, Grace: 10 * time.Second,
		PerDatabase: map[string]time.Duration{"inventory": 300 * time.Millisecond}},
		`SELECT x, x FROM unnest($1::text[]) x, pg_sleep(5) /* fedsaga-timeout-test */`)
	start := time.Now()
	_, err := l.Load(context.Background(), []string{"a"})
	var te *federation.FederationTimeoutError
	if !errors.As(err, &te) || te.Database != "inventory" || te.Timeout != 300*time.Millisecond ||
		te.Key != "federation.database_timeouts.inventory" ||
		!strings.Contains(err.Error(), "within 300ms") || !strings.Contains(err.Error(), "[federation.database_timeouts] inventory") {
		t.Fatalf("err = %v, want FederationTimeoutError for inventory after 300ms", err)
	}
	// The cause stays: the server's query_canceled.
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Errorf("cause of %v: %v, want the server's query_canceled (57014)", err, errors.Unwrap(te))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("timed out after %s, want the 300ms statement_timeout well before pg_sleep(5) ends", d)
	}
	var running int64
	if err := e.db(t, config.InventoryDB).Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%fedsaga-timeout-test%' AND pid <> pg_backend_pid()`).Scan(&running); err != nil {
		t.Fatal(err)
	}
	if running != 0 {
		t.Errorf("%d timed-out queries still running on the server", running)
	}
}

func TestFederationTimeoutWhenTheDatabaseStopsAnswering(t *testing.T) {
	t.Parallel()
	// The server's statement_timeout cannot help when its answer never
	// arrives (a network partition, a frozen host): the read's own deadline
	// must end the wait.
	cfg := pgtest.Databases(t, "inventory")["inventory"]
	proxy, proxied := pgtest.NewFreezeProxy(t, cfg.URL)
	cfg.URL = proxied
	reg, err := pg.Open(map[string]config.Database{"inventory": cfg}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	defer proxy.Close() // first: a pool closes its frozen connection only once it is dropped
	db, _ := reg.DB("inventory")
	l := pair(db, federation.Timeouts{Default: 300 * time.Millisecond}, `SELECT x, x FROM unnest($1::text[]) x`)
	if _, err := l.Load(context.Background(), []string{"a"}); err != nil {
		t.Fatalf("load through the proxy: %v", err)
	}
	proxy.Freeze() // the pooled connection stays open; its answers stop
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // the caller's patience, far longer
	defer cancel()
	_, err = l.Load(ctx, []string{"b"})
	var te *federation.FederationTimeoutError
	if !errors.As(err, &te) || te.Database != "inventory" || te.Timeout != 300*time.Millisecond || te.Key != "federation.default_timeout" {
		t.Fatalf("err = %v, want FederationTimeoutError for inventory", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cause of %v: %v, want context.DeadlineExceeded", err, errors.Unwrap(te))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("gave up after %s, want about 300ms + 250ms, before the caller's 5s", d)
	}
}

func TestCursorWalkSeesEveryOrderOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := pgtest.SeedOrders(t, e.cfg, 300)
	r := e.reader(t, nil)
	ctx := context.Background()
	orders := e.db(t, config.OrdersDB).Pool()

	// New orders arrive during the walk.
	stop := make(chan struct{})
	var inserted atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("walk-%d-%d", time.Now().UnixNano(), i)
			if _, err := orders.Exec(ctx, `INSERT INTO tb_order (id, customer_id, status, total_cents) VALUES ($1, 'c', 'pending', 0)`, id); err == nil {
				inserted.Add(1)
			}
		}
	})
	seen := map[string]int{}
	var after *federation.Cursor
	for pages := 0; ; pages++ {
		page, next, err := r.Page(ctx, after, 37)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page {
			seen[o.ID]++
		}
		if next == nil || pages > 10000 {
			break
		}
		c, err := federation.ParseCursor(next.String())
		if err != nil || !c.CreatedAt.Equal(next.CreatedAt) || c.ID != next.ID {
			t.Fatalf("cursor %v does not survive its string: %v, %v", *next, c, err)
		}
		after = &c
	}
	close(stop)
	wg.Wait()
	for _, id := range d.IDs {
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
	if _, err := federation.ParseCursor("garbage!"); err == nil {
		t.Error("ParseCursor(garbage!) succeeded")
	}
}
