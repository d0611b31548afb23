// Package pgtest gives tests throwaway databases on the machine's
// PostgreSQL server ($FEDSAGA_TEST_PG, default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable): each is
// created fresh, carries fedsaga's schema when it has one, and is dropped
// when the test ends. A server that cannot be reached fails the test.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/migrations"
)

// AdminURL is the server's URL for creating and dropping databases.
func AdminURL() string {
	if u := os.Getenv("FEDSAGA_TEST_PG"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Databases creates one database per name (fedsaga_pgtest_<random>_<name>),
// migrated when fedsaga has a schema of that name, and returns their
// configuration with fedsaga's defaults, keyed by name.
func Databases(t testing.TB, names ...string) map[string]config.Database {
	t.Helper()
	ctx := context.Background()
	admin := func(sql string) error {
		conn, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			return fmt.Errorf("PostgreSQL at %s: %w", config.RedactURL(AdminURL()), err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	prefix := "fedsaga_pgtest_" + strings.ToLower(rand.Text()[:10])
	out := map[string]config.Database{}
	for _, name := range names {
		db := prefix + "_" + name
		if err := admin("CREATE DATABASE " + db); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := admin("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)"); err != nil {
				t.Errorf("drop %s: %v", db, err)
			}
		})
		cfg := config.DefaultDatabase()
		base, query, _ := strings.Cut(AdminURL(), "?")
		cfg.URL = base[:strings.LastIndex(base, "/")+1] + db + "?" + query
		if slices.Contains(migrations.Databases, name) {
			pool, err := pgxpool.New(ctx, cfg.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, err = migrations.Up(ctx, name, pool)
			pool.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		out[name] = cfg
	}
	return out
}

// Orders are orders that SeedOrders wrote.
type Orders struct {
	Products []string // product ids: <prefix>-p0 … -p2, priced 100, 200, 300
	IDs      []string // order ids, oldest first
}

// SeedOrders writes n orders straight into the orders, inventory and
// payments databases: every order has two items (products p0 and p1), every
// second one (IDs[1], IDs[3], …) a reservation and a payment.
func SeedOrders(t testing.TB, dbs map[string]config.Database, n int) Orders {
	t.Helper()
	ctx := context.Background()
	prefix := strings.ToLower(rand.Text()[:8])
	var d Orders
	for i := range 3 {
		d.Products = append(d.Products, fmt.Sprintf("%s-p%d", prefix, i))
	}
	for i := range n {
		d.IDs = append(d.IDs, fmt.Sprintf("%s-o%05d", prefix, i))
	}
	steps := []struct {
		db, sql string
		args    []any
	}{
		{config.InventoryDB, `INSERT INTO tb_product (id, sku, name, price_cents, stock)
			SELECT p, 'SKU-' || p, 'Product ' || p, 100 * k, 1000 FROM unnest($1::text[]) WITH ORDINALITY AS u(p, k)`, []any{d.Products}},
		{config.OrdersDB, `INSERT INTO tb_order (id, customer_id, status, total_cents) SELECT o, 'cust', 'confirmed', 300 FROM unnest($1::text[]) o`, []any{d.IDs}},
		{config.OrdersDB, `INSERT INTO tb_order_item (order_id, product_id, sku, name, quantity, price_cents)
			SELECT o, $2 || '-p' || k, 'SKU-' || $2 || '-p' || k, 'x', 1, 100 * (k + 1) FROM unnest($1::text[]) o, generate_series(0, 1) k`, []any{d.IDs, prefix}},
		{config.InventoryDB, `INSERT INTO tb_reservation (order_id, product_id, quantity, status)
			SELECT o, $2 || '-p0', 1, 'reserved' FROM unnest($1::text[]) WITH ORDINALITY AS u(o, n) WHERE n % 2 = 0`, []any{d.IDs, prefix}},
		{config.PaymentsDB, `INSERT INTO tb_account (customer_id, balance_cents) VALUES ('cust', 0) ON CONFLICT DO NOTHING`, nil},
		{config.PaymentsDB, `INSERT INTO tb_transaction (order_id, customer_id, amount_cents, status)
			SELECT o, 'cust', 300, 'charged' FROM unnest($1::text[]) WITH ORDINALITY AS u(o, n) WHERE n % 2 = 0`, []any{d.IDs}},
		// Fresh statistics, as autovacuum keeps them in a running system.
		{config.OrdersDB, `ANALYZE`, nil}, {config.InventoryDB, `ANALYZE`, nil}, {config.PaymentsDB, `ANALYZE`, nil},
	}
	for _, st := range steps {
		conn, err := pgx.Connect(ctx, dbs[st.db].URL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, st.sql, st.args...)
		conn.Close(ctx)
		if err != nil {
			t.Fatalf("%s: %v", st.sql, err)
		}
	}
	return d
}
