package federation

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
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

// Querier runs a query: what a federated read gets.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Read runs fn on a connection of the database's read pool for the
// federated-read timeout: its connections carry that statement_timeout, so
// the server cancels a slow query itself, and the context fn gets, whose
// deadline is slightly longer, stops the caller when the server does not
// answer at all. Nothing keeps running after the caller gave up,
// and no round trip is spent setting the timeout. Timeouts are
// *FederationTimeoutError.
func (db *DB) Read(ctx context.Context, t Timeouts, fn func(context.Context, Querier) error) error {
	timeout, key := t.of(db.Name)
	pool, err := db.readPool(timeout)
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, timeout+250*time.Millisecond)
	defer cancel()
	conn, err := db.acquire(tctx, pool)
	if err != nil {
		return db.readErr(ctx, err, timeout, key)
	}
	defer conn.Release()
	return db.readErr(ctx, fn(tctx, conn), timeout, key)
}

// readPool returns the pool of read connections whose statement_timeout is
// timeout, opening it the first time.
func (db *DB) readPool(timeout time.Duration) (*pgxpool.Pool, error) {
	db.readMu.Lock()
	defer db.readMu.Unlock()
	if p, ok := db.readPools[timeout]; ok {
		return p, nil
	}
	cfg := db.pool.Config().Copy()
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	if db.readPools == nil {
		db.readPools = map[time.Duration]*pgxpool.Pool{}
	}
	db.readPools[timeout] = p
	return p, nil
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
