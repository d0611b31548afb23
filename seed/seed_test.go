package seed_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
	"github.com/fedsaga/fedsaga/seed"
)

// freshDatabases creates migrated inventory and payments databases on the
// machine's PostgreSQL (internal/pgtest) and opens them.
func freshDatabases(t *testing.T) *pg.Registry {
	t.Helper()
	dbs, err := pg.Open(pgtest.Databases(t, config.InventoryDB, config.PaymentsDB), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dbs.Close)
	return dbs
}

func TestLoadKeepsOrResets(t *testing.T) {
	ctx := context.Background()
	dbs := freshDatabases(t)
	inventory, _ := dbs.DB(config.InventoryDB)
	stock := func() (n int) {
		t.Helper()
		err := inventory.Query(ctx, func(c *pgxpool.Conn) error {
			return c.QueryRow(ctx, `SELECT stock FROM tb_product WHERE sku = 'GIZMO-LTD'`).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	load := func(reset bool, wantKept bool) {
		t.Helper()
		rows, err := seed.Load(ctx, dbs, reset)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(seed.Products)+len(seed.Accounts) {
			t.Fatalf("%d rows, want one per demo product and account", len(rows))
		}
		for _, r := range rows {
			if r.Kept != wantKept || (wantKept && !strings.Contains(r.String(), "already there, kept")) {
				t.Errorf("reset=%v: row %s kept=%v, want %v", reset, r, r.Kept, wantKept)
			}
		}
	}

	load(false, false)
	if got := stock(); got != 3 {
		t.Fatalf("GIZMO-LTD stock %d after seeding, want 3", got)
	}
	if err := inventory.Query(ctx, func(c *pgxpool.Conn) error {
		_, err := c.Exec(ctx, `UPDATE tb_product SET stock = 1 WHERE sku = 'GIZMO-LTD'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	load(false, true)
	if got := stock(); got != 1 {
		t.Errorf("a second seed changed the stock to %d, want it kept at 1", got)
	}
	load(true, false)
	if got := stock(); got != 3 {
		t.Errorf("seed with reset left the stock at %d, want 3", got)
	}
}
