// Package federation serves fedsaga's batched reads across its databases:
// Loader fetches rows by key from one database, Parallel runs loads on
// several databases at once, and Reader federates orders with their items,
// products, reservations and payment at a constant number of queries per
// page, following the relations that package relation accepts. Every read
// has a deadline per database (*FederationTimeoutError). It reads through
// package pg's pools; package api serves the Reader over HTTP.
package federation

import (
	"cmp"
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
	Default     time.Duration // 0: 5s
	PerDatabase map[string]time.Duration
	Grace       time.Duration // how much longer the client waits than the server; 0: 250ms
}

// read runs fn on a connection of db's read pool (pg.DB.Read), whose
// statement_timeout makes the server cancel a slow query itself; fn's
// context ends Grace later, for a server that does not answer at all.
// Either timeout is a *FederationTimeoutError.
func (t Timeouts) read(ctx context.Context, db *pg.DB, fn func(context.Context, *pgxpool.Conn) error) error {
	timeout, key := t.PerDatabase[db.Name], "federation.database_timeouts."+db.Name
	if timeout <= 0 {
		timeout, key = cmp.Or(max(t.Default, 0), 5*time.Second), "federation.default_timeout"
	}
	tctx, cancel := context.WithTimeout(ctx, timeout+cmp.Or(t.Grace, 250*time.Millisecond))
	defer cancel()
	err := db.Read(tctx, timeout, func(c *pgxpool.Conn) error { return fn(tctx, c) })
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "57014" || // query_canceled: statement_timeout
		errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return &FederationTimeoutError{Database: db.Name, Timeout: timeout, Key: key, Err: err}
	}
	return err
}
