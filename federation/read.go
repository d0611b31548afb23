package federation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// FederationTimeoutError is a federated read that a database did not answer
// in time. The query was cancelled on the server too (statement_timeout).
type FederationTimeoutError struct {
	Database string
	Timeout  time.Duration
	Key      string // the configuration key that set the timeout
}

func (e *FederationTimeoutError) Error() string {
	return fmt.Sprintf("FederationTimeoutError: database %q did not answer within %dms (%s); raise it under [federation.database_timeouts] %s = \"...\" or look at slow queries (databases.%s.log_slow_queries)",
		e.Database, e.Timeout.Milliseconds(), e.Key, e.Database, e.Database)
}

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

// Read runs fn in a read-only transaction whose statement_timeout is the
// database's federated-read timeout, under a context deadline slightly
// longer, so that the server cancels a slow query itself and nothing keeps
// running after the caller gave up. Timeouts are *FederationTimeoutError.
func (db *DB) Read(ctx context.Context, t Timeouts, fn func(pgx.Tx) error) error {
	timeout, key := t.of(db.Name)
	tctx, cancel := context.WithTimeout(ctx, timeout+250*time.Millisecond)
	defer cancel()
	conn, err := db.Acquire(tctx)
	if err != nil {
		return db.readErr(ctx, err, timeout, key)
	}
	defer conn.Release()
	tx, err := conn.BeginTx(tctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return db.readErr(ctx, db.connErr(err), timeout, key)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(tctx, "SET LOCAL statement_timeout = "+strconv.FormatInt(timeout.Milliseconds(), 10)); err != nil {
		return db.readErr(ctx, err, timeout, key)
	}
	if err := fn(tx); err != nil {
		return db.readErr(ctx, err, timeout, key)
	}
	return db.readErr(ctx, tx.Commit(tctx), timeout, key)
}

func (db *DB) readErr(ctx context.Context, err error, timeout time.Duration, key string) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	timedOut := errors.As(err, &pgErr) && pgErr.Code == "57014" // query_canceled: statement_timeout
	timedOut = timedOut || (errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil)
	if timedOut {
		return &FederationTimeoutError{Database: db.Name, Timeout: timeout, Key: key}
	}
	return err
}
