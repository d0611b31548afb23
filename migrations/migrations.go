// Package migrations holds the schema of every fedsaga database, embedded in
// the binary, and applies it with goose.
//
// goose (github.com/pressly/goose/v3) was chosen over golang-migrate because
// its Provider API takes an embed.FS and a *sql.DB without global state, and
// its PostgreSQL session locker (pg_advisory_lock) makes two processes that
// migrate at once wait for each other instead of racing.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/fedsaga/fedsaga/config"
)

//go:embed orders/*.sql inventory/*.sql payments/*.sql
var files embed.FS

// Databases are the database names that have a schema, in the order they
// are migrated: every database a configuration must have.
var Databases = config.RequiredDatabases

// Result is what Up did to one database.
type Result struct {
	Database string
	Applied  []int64 // versions applied by this call
	Version  int64   // schema version after the call
}

// Up applies every pending migration of the named database through pool.
// It is idempotent, and safe to run from several processes at once: a
// PostgreSQL advisory lock serializes them.
func Up(ctx context.Context, database string, pool *pgxpool.Pool) (Result, error) {
	res := Result{Database: database}
	sub, err := schema(database)
	if err != nil {
		return res, err
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := provider(db, sub)
	if err != nil {
		return res, fmt.Errorf("migrate %s: %w", database, err)
	}
	applied, err := p.Up(ctx)
	for _, r := range applied {
		if r.Source != nil {
			res.Applied = append(res.Applied, r.Source.Version)
		}
	}
	if err != nil {
		return res, fmt.Errorf("migrate %s: %w", database, err)
	}
	res.Version, err = p.GetDBVersion(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate %s: read version: %w", database, err)
	}
	return res, nil
}

func provider(db *sql.DB, fsys fs.FS) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker(
		// Wait up to 5 minutes (300 × 1 s) for another process's migration.
		lock.WithLockTimeout(1, 300),
	)
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
}

// schema is the named database's embedded migrations.
func schema(database string) (fs.FS, error) {
	if !slices.Contains(Databases, database) {
		return nil, fmt.Errorf("migrate: no schema for database %q (have %v)", database, Databases)
	}
	return fs.Sub(files, database)
}

// Needed is the schema version of database that this fedsaga needs: its
// newest embedded migration.
func Needed(database string) (int64, error) {
	sub, err := schema(database)
	if err != nil {
		return 0, err
	}
	names, err := fs.Glob(sub, "*.sql")
	if err != nil {
		return 0, err
	}
	var newest int64
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return 0, fmt.Errorf("migrate: %s: %w", name, err)
		}
		newest = max(newest, v)
	}
	return newest, nil
}

// BehindError is a database whose schema is older than this fedsaga needs.
type BehindError struct {
	Database      string
	Version, Need int64
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("database %s is at schema version %d, this fedsaga needs %d: run `fedsaga migrate` first", e.Database, e.Version, e.Need)
}

// Check reads the schema version of database through pool (one query on
// the table Up records versions in, no lock, nothing written) and returns a *BehindError when it is older than
// Needed: a worker would fail the steps whose statements use what the
// missing migrations add. A newer schema is fine (migrations only add).
func Check(ctx context.Context, database string, pool *pgxpool.Pool) error {
	need, err := Needed(database)
	if err != nil {
		return err
	}
	var version int64
	err = pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM `+goose.DefaultTablename+` WHERE is_applied`).Scan(&version)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		version = 0 // never migrated
	case err != nil:
		return fmt.Errorf("database %s: read schema version: %w", database, err)
	}
	if version < need {
		return &BehindError{Database: database, Version: version, Need: need}
	}
	return nil
}
