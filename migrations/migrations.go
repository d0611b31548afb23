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
	"fmt"
	"io/fs"
	"slices"

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
	if !slices.Contains(Databases, database) {
		return res, fmt.Errorf("migrate: no schema for database %q (have %v)", database, Databases)
	}
	sub, err := fs.Sub(files, database)
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
