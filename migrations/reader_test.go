package migrations_test

import (
	"context"
	"crypto/rand"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/internal/pgtest"
)

// readerSQL is the README's reader.sql: the role statement, and the grants
// per database (fedsaga_<name>), split at psql's \connect lines.
func readerSQL(t *testing.T) (role string, grants map[string]string) {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sql\n-- reader.sql[^\n]*\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```sql block starting with -- reader.sql")
	}
	parts := regexp.MustCompile(`(?m)^\\connect fedsaga_(\w+)\n`).Split(string(m[1]), -1)
	names := regexp.MustCompile(`(?m)^\\connect fedsaga_(\w+)\n`).FindAllStringSubmatch(string(m[1]), -1)
	grants = map[string]string{}
	for i, n := range names {
		grants[n[1]] = parts[i+1]
	}
	return parts[0], grants
}

// TestReaderRoleGrants runs the README's reader.sql against freshly
// migrated databases: the role reads every table the read API reads, and
// can write none of them.
func TestReaderRoleGrants(t *testing.T) {
	ctx := context.Background()
	roleSQL, grants := readerSQL(t)
	role := "fedsaga_reader_" + strings.ToLower(rand.Text()[:8])
	admin := func(sql string) error {
		conn, err := pgx.Connect(ctx, pgtest.AdminURL())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	rename := func(sql string) string { return strings.ReplaceAll(sql, "fedsaga_reader", role) }
	if err := admin(rename(roleSQL)); err != nil {
		t.Fatalf("reader.sql, role: %v", err)
	}
	// Runs after the databases are dropped (cleanups run last first).
	t.Cleanup(func() {
		if err := admin("DROP ROLE IF EXISTS " + role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})

	tables := map[string][]string{
		config.OrdersDB:    {"tb_order", "tb_order_item"},
		config.InventoryDB: {"tb_product", "tb_reservation"},
		config.PaymentsDB:  {"tb_account", "tb_transaction"},
	}
	dbs := pgtest.Databases(t, config.RequiredDatabases...)
	for name, cfg := range dbs {
		sql, ok := grants[name]
		if !ok {
			t.Errorf("reader.sql has no \\connect fedsaga_%s", name)
			continue
		}
		owner, err := pgx.Connect(ctx, cfg.URL)
		if err != nil {
			t.Fatal(err)
		}
		dbName := owner.Config().Database
		// The README names fedsaga_<name>; here the database is a throwaway one.
		if _, err := owner.Exec(ctx, strings.ReplaceAll(rename(sql), "fedsaga_"+name, dbName)); err != nil {
			t.Fatalf("reader.sql in %s: %v", name, err)
		}
		owner.Close(ctx)

		rcfg, err := pgx.ParseConfig(cfg.URL)
		if err != nil {
			t.Fatal(err)
		}
		rcfg.User, rcfg.Password = role, "change-me"
		reader, err := pgx.ConnectConfig(ctx, rcfg)
		if err != nil {
			t.Fatalf("connect to %s as %s: %v", name, role, err)
		}
		for _, table := range tables[name] {
			if _, err := reader.Exec(ctx, "SELECT * FROM "+table+" LIMIT 1"); err != nil {
				t.Errorf("%s: %s cannot read %s: %v", name, role, table, err)
			}
			_, err := reader.Exec(ctx, "DELETE FROM "+table)
			if err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("%s: DELETE FROM %s as %s: %v; want permission denied", name, table, role, err)
			}
		}
		if _, err := reader.Exec(ctx, "SELECT * FROM tb_barrier LIMIT 1"); err == nil {
			t.Errorf("%s: %s reads tb_barrier, which the read API does not need", name, role)
		}
		reader.Close(ctx)
	}
}
