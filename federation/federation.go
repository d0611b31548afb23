// Package federation serves fedsaga's batched reads across its databases:
// Loader fetches rows by key from one database (`WHERE key = ANY($1)`,
// chunked, in key order, "not found" apart from "failed"), Parallel runs
// loads on several databases at once, and Reader federates orders with
// their items, products, reservations and payment at a constant number of
// queries per page, following the relations that package relation accepts.
// Every read has a deadline per database and fails with
// *FederationTimeoutError when the database does not answer in time.
//
// The pools it reads through are package pg's; the HTTP API over the
// Reader is package api.
package federation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedsaga/fedsaga/federation/pg"
)

// FederationTimeoutError is a federated read that a database did not answer
// in time. The query was cancelled on the server too (statement_timeout).
// Err is what the read failed with: a *pgconn.PgError (query_canceled) when
// the server gave up, context.DeadlineExceeded when the client did.
type FederationTimeoutError struct {
	Database string
	Timeout  time.Duration
	Key      string // the configuration key that set the timeout
	Err      error
}

func (e *FederationTimeoutError) Error() string {
	return fmt.Sprintf("FederationTimeoutError: database %q did not answer within %dms (%s); raise it under [federation.database_timeouts] %s = \"...\" or look at slow queries (databases.%s.log_slow_queries)",
		e.Database, e.Timeout.Milliseconds(), e.Key, e.Database, e.Database)
}

func (e *FederationTimeoutError) Unwrap() error { return e.Err }

// Timeouts are the federated-read timeouts per database.
type Timeouts struct {
	Default     time.Duration
	PerDatabase map[string]time.Duration
}

// of returns the timeout of a database and the key that set it.
func (t Timeouts) of(db string) (time.Duration, string) {
	if d, ok := t.PerDatabase[db]; ok && d > 0 {
		return d, "federation.database_timeouts." + db
	}
	if t.Default > 0 {
		return t.Default, "federation.default_timeout"
	}
	return 5 * time.Second, "federation.default_timeout"
}

// read runs fn on a connection of db's read pool for the database's
// timeout (pg.DB.Read): the server cancels a slow query itself, and the
// context fn gets, whose deadline is slightly longer, stops the caller when
// the server does not answer at all. Timeouts are *FederationTimeoutError.
func (t Timeouts) read(ctx context.Context, db *pg.DB, fn func(context.Context, *pgxpool.Conn) error) error {
	timeout, key := t.of(db.Name)
	tctx, cancel := context.WithTimeout(ctx, timeout+250*time.Millisecond)
	defer cancel()
	err := db.Read(tctx, timeout, func(c *pgxpool.Conn) error { return fn(tctx, c) })
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "57014" || // query_canceled: statement_timeout
		errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return &FederationTimeoutError{Database: db.Name, Timeout: timeout, Key: key, Err: err}
	}
	return err
}
