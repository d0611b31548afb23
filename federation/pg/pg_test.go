package pg_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/internal/pgtest"
)

// open opens a registry of one fresh database, "scratch", after mutate
// changed its configuration.
func open(t *testing.T, logger zerolog.Logger, mutate func(*config.Database)) *pg.DB {
	_, db := openRegistry(t, logger, mutate)
	return db
}

func openRegistry(t *testing.T, logger zerolog.Logger, mutate func(*config.Database)) (*pg.Registry, *pg.DB) {
	t.Helper()
	dbs := pgtest.Databases(t, "scratch")
	cfg := dbs["scratch"]
	if mutate != nil {
		mutate(&cfg)
	}
	reg, err := pg.Open(map[string]config.Database{"scratch": cfg}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	db, err := reg.DB("scratch")
	if err != nil {
		t.Fatal(err)
	}
	return reg, db
}

func exec(t *testing.T, db *pg.DB, sql string) {
	t.Helper()
	if _, err := db.Pool().Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestReadsCountedByCommandTag(t *testing.T) {
	t.Parallel()
	db := open(t, zerolog.Nop(), nil)
	exec(t, db, `CREATE TABLE stock (id text PRIMARY KEY, n int)`)
	exec(t, db, `CREATE TABLE moved (id text, n int)`)
	exec(t, db, `INSERT INTO stock VALUES ('a', 5), ('b', 1)`)
	for _, tc := range []struct {
		sql  string
		read bool
	}{
		{`SELECT n FROM stock`, true},
		{`  with s AS (SELECT n FROM stock) SELECT sum(n) FROM s`, true},
		{`SELECT n FROM stock WHERE id = 'a' FOR UPDATE`, true},
		{`INSERT INTO moved VALUES ('x', 1)`, false},
		{`UPDATE stock SET n = n WHERE id = 'b'`, false},
		// The shapes of the saga's writes that start with WITH: a
		// data-modifying WITH query under a SELECT (reserve), and under an
		// UPDATE (release, refund).
		{`WITH want AS (SELECT * FROM unnest(ARRAY['a','b']) AS w(id)),
		      taken AS (
		        UPDATE stock s SET n = s.n - 1 FROM want w WHERE s.id = w.id AND s.n >= 1 RETURNING s.id)
		 SELECT w.id FROM want w WHERE w.id NOT IN (SELECT id FROM taken)`, false},
		{`WITH released AS (
		   DELETE FROM moved WHERE id = 'x' RETURNING id, n)
		 UPDATE stock s SET n = s.n + r.n FROM released r WHERE s.id = 'a'`, false},
		{`WITH x AS MATERIALIZED (INSERT INTO moved VALUES ('y', 2) RETURNING n) SELECT n FROM x`, false},
	} {
		before := db.Stats()
		rows, err := db.Pool().Query(context.Background(), tc.sql)
		if err == nil {
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		after := db.Stats()
		if got := after.Reads - before.Reads; got != map[bool]int64{true: 1}[tc.read] {
			t.Errorf("%s: %d reads counted, want read=%v", tc.sql, got, tc.read)
		}
		if got := after.Statements - before.Statements; got != 1 {
			t.Errorf("%s: %d statements counted, want 1", tc.sql, got)
		}
	}
}

func TestPoolExhausted(t *testing.T) {
	t.Parallel()
	// pool_timeout also bounds connecting: long enough for a loaded machine.
	db := open(t, zerolog.Nop(), func(c *config.Database) { c.PoolSize, c.PoolTimeout = 1, time.Second })
	held, err := db.Pool().Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	start := time.Now()
	err = db.Query(context.Background(), func(*pgxpool.Conn) error { return nil })
	var pe *pg.PoolExhaustedError
	if !errors.As(err, &pe) || pe.Database != "scratch" || pe.PoolSize != 1 || !strings.Contains(err.Error(), "databases.scratch.pool_size") {
		t.Fatalf("err = %v, want PoolExhaustedError", err)
	}
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Errorf("gave up after %s, want pool_timeout 1s", d)
	}
	// The caller's own deadline is the caller's, not an exhausted pool.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := db.Tx(ctx, func(pgx.Tx) error { return nil }); !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &pe) {
		t.Errorf("caller's deadline: %v, want context.DeadlineExceeded", err)
	}
}

func TestDatabaseConnectionError(t *testing.T) {
	t.Parallel()
	// The second password starts with digits and holds a raw "#", which
	// pgx reads as part of the password: it used to be printed in full.
	for pw, url := range map[string]string{
		"hunter2":       "postgres://app:hunter2@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1",
		"2024#s3cretpw": "postgres://app:2024#s3cretpw@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1",
		"2024/s3cr?tpw": "host=127.0.0.1 port=1 user=app password=2024/s3cr?tpw dbname=nowhere sslmode=disable connect_timeout=1",
	} {
		reg, err := pg.Open(map[string]config.Database{"payments": {URL: url, PoolSize: 2, PoolTimeout: 2 * time.Second}}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		db, _ := reg.DB("payments")
		health, _ := reg.Health(context.Background())
		for name, err := range map[string]error{
			"Query":  db.Query(context.Background(), func(*pgxpool.Conn) error { return nil }),
			"Tx":     db.Tx(context.Background(), func(pgx.Tx) error { return nil }),
			"Ping":   db.Ping(context.Background()),
			"Health": health[0].Err,
		} {
			var ce *pg.DatabaseConnectionError
			if !errors.As(err, &ce) || ce.Database != "payments" || ce.Err == nil {
				t.Errorf("%s: %v, want DatabaseConnectionError for payments", name, err)
				continue
			}
			msg := err.Error() + health[0].URL + fmt.Sprintf("%#v %+v", err, err)
			if strings.Contains(msg, pw) || strings.Contains(msg, "s3cr") || !strings.Contains(msg, "[REDACTED]") || !strings.Contains(msg, "databases.payments.url") {
				t.Errorf("%s: message %q, want the URL redacted and the config key", name, msg)
			}
		}
	}
	reg, err := pg.Open(map[string]config.Database{"payments": {URL: "postgres://app@127.0.0.1:1/nowhere", PoolSize: 2, PoolTimeout: time.Second}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, err := reg.DB("billing"); !errors.Is(err, pg.ErrUnknownDatabase) || !strings.Contains(err.Error(), "[databases.billing]") {
		t.Errorf("unknown database: %v", err)
	}
}

// TestOpenRefusesBadURL: a URL that pgx cannot use is refused with the
// reason and the key, never the password (a bad port gave "%!w(<nil>)").
func TestOpenRefusesBadURL(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"postgres://app:s3cretpw@db:99999/x":              "config: databases.payments.url: the port is not a number from 1 to 65535",
		"postgres://app:12/s3cretpw@db/x":                 `config: databases.payments.url: holds an "@" after the host`,
		"postgres://app:s3cretpw@db/x?pool_max_conns=abc": "config: databases.payments.url: cannot parse pool_max_conns",
		"postgres://app:s3cretpw@db/x?sslmode=sometimes":  "config: databases.payments.url: failed to configure TLS (sslmode is invalid)",
		"host=db password=s3cretpw port=s3cretpw2":        "config: databases.payments.url: the port is not a number from 1 to 65535",
	} {
		reg, err := pg.Open(map[string]config.Database{"payments": {URL: url, PoolSize: 1, PoolTimeout: time.Second}}, zerolog.Nop())
		if err == nil {
			reg.Close()
			t.Errorf("%s: opened", url)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, want) || strings.Contains(msg, "s3cret") || strings.Contains(msg, "%!") {
			t.Errorf("Open(%q) = %q, want it to start %q and hide the password", url, msg, want)
		}
	}
}

func TestTx(t *testing.T) {
	t.Parallel()
	db := open(t, zerolog.Nop(), nil)
	exec(t, db, `CREATE TABLE t (v int)`)
	ctx := context.Background()
	if err := db.Tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO t VALUES (1)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errNo := errors.New("no")
	err := db.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO t VALUES (2)`); err != nil {
			return err
		}
		return errNo
	})
	var ce *pg.DatabaseConnectionError
	if err != errNo || errors.As(err, &ce) {
		t.Errorf("fn's error came back as %v, want it as is", err)
	}
	var sum int
	if err := db.Pool().QueryRow(ctx, `SELECT coalesce(sum(v), 0) FROM t`).Scan(&sum); err != nil || sum != 1 {
		t.Errorf("sum = %d (%v), want 1: the first committed, the second rolled back", sum, err)
	}
}

func TestSlowQueriesLoggedWithoutParameters(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer // written by the tracer on the querying goroutine
	// A threshold far above a fast query's time, even on a loaded machine.
	db := open(t, zerolog.New(&logs).Level(zerolog.InfoLevel), func(c *config.Database) { c.LogSlowQueries = 500 * time.Millisecond })
	var out string
	if err := db.Pool().QueryRow(context.Background(), `SELECT $1::text FROM pg_sleep(0.55)`, "s3cret-param").Scan(&out); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool().QueryRow(context.Background(), `SELECT 'fast'`).Scan(&out); err != nil {
		t.Fatal(err)
	}
	line := logs.String()
	for _, want := range []string{`"message":"slow query"`, `"database":"scratch"`, `"duration":`, `pg_sleep(0.55)`} {
		if !strings.Contains(line, want) {
			t.Errorf("slow-query log lacks %s:\n%s", want, line)
		}
	}
	if strings.Contains(line, "s3cret-param") || strings.Contains(line, "'fast'") {
		t.Errorf("slow-query log shows a parameter value or a fast query:\n%s", line)
	}
}

func TestCollector(t *testing.T) {
	t.Parallel()
	reg, db := openRegistry(t, zerolog.Nop(), nil)
	if err := db.Read(context.Background(), time.Second, func(c *pgxpool.Conn) error { return c.Ping(context.Background()) }); err != nil {
		t.Fatal(err)
	}
	exec(t, db, `SELECT 1`)
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(reg.Collector())
	families, err := metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := ""
			for _, l := range m.GetLabel() {
				labels += l.GetName() + "=" + l.GetValue() + ","
			}
			got = append(got, f.GetName()+"{"+labels+"}")
		}
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"fedsaga_database_query_seconds{database=scratch,}",
		"fedsaga_database_pool_active{database=scratch,pool=main,}",
		"fedsaga_database_pool_max{database=scratch,pool=read-1s,}",
		"fedsaga_database_pool_empty_acquire_wait_seconds_total{database=scratch,pool=main,}",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("metrics lack %s:\n%s", want, all)
		}
	}
}
