package migrations_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/internal/pgtest"
	"github.com/fedsaga/fedsaga/migrations"
)

// TestCheckFindsASchemaBehind: a migrated database passes; one a migration
// behind, or never migrated, is a *BehindError naming the database, both
// versions and the command that fixes it.
func TestCheckFindsASchemaBehind(t *testing.T) {
	ctx := context.Background()
	dbs := pgtest.Databases(t, config.OrdersDB, "unmigrated")
	pool := func(name string) *pgxpool.Pool {
		p, err := pgxpool.New(ctx, dbs[name].URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	orders, empty := pool(config.OrdersDB), pool("unmigrated")
	need, err := migrations.Needed(config.OrdersDB)
	if err != nil || need < 8 {
		t.Fatalf("Needed(orders) = %d, %v; want at least 8 (00008_step_function.sql)", need, err)
	}
	if err := migrations.Check(ctx, config.OrdersDB, orders); err != nil {
		t.Fatalf("a migrated database: %v", err)
	}

	if _, err := orders.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = $1`, need); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		pool    *pgxpool.Pool
		version int64
	}{{"a migration behind", orders, need - 1}, {"never migrated", empty, 0}} {
		err := migrations.Check(ctx, config.OrdersDB, c.pool)
		var behind *migrations.BehindError
		if !errors.As(err, &behind) || *behind != (migrations.BehindError{Database: config.OrdersDB, Version: c.version, Need: need}) {
			t.Errorf("%s: %v, want a BehindError at version %d of %d", c.name, err, c.version, need)
			continue
		}
		if !strings.Contains(err.Error(), "fedsaga migrate") {
			t.Errorf("%s: %q does not say how to fix it", c.name, err)
		}
	}
	if _, err := migrations.Needed("nope"); err == nil {
		t.Error("Needed of a database without a schema: no error")
	}
}
