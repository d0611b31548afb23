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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/fedsaga/fedsaga/federation/pg"
)

// FederationTimeoutError is a federated read that a database did not answer
// in time; the server cancels the query too (statement_timeout). Err is a
// *pgconn.PgError (query_canceled) or, when the client gave up first,
// context.DeadlineExceeded.
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
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == "57014" || // query_canceled: statement_timeout
		errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return &FederationTimeoutError{Database: db.Name, Timeout: timeout, Key: key, Err: err}
	}
	return err
}

// Loader loads rows by key from one database (`WHERE key = ANY($1)`),
// BatchSize keys per query (0: 1000). Duplicate keys are fetched once; rows
// come back in the order of the keys; a key without a row is not Found,
// which is apart from a failed load (an error).
type Loader[K comparable, V any] struct {
	DB        *pg.DB
	Timeouts  Timeouts
	BatchSize int
	Query     string           // selects the rows of the keys in $1 (an array): the key, then V's columns
	Scan      func(v *V) []any // where the columns after the key go; a key's several rows come together, in order
}

// Row is the result of one key.
type Row[K comparable, V any] struct {
	Key    K
	Values []V // the rows of the key, in query order
	Found  bool
}

// Load loads the keys. Chunks of BatchSize run one after another on one
// connection; use Parallel to load from several databases at once.
func (l *Loader[K, V]) Load(ctx context.Context, keys []K) ([]Row[K, V], error) {
	unique := make([]K, 0, len(keys))
	found := make(map[K][]V, len(keys))
	for _, k := range keys {
		if _, ok := found[k]; !ok {
			found[k] = nil
			unique = append(unique, k)
		}
	}
	size := cmp.Or(max(l.BatchSize, 0), 1000) // 0 or less: 1000
	if len(unique) > 0 {
		err := l.Timeouts.read(ctx, l.DB, func(ctx context.Context, c *pgxpool.Conn) error {
			for start := 0; start < len(unique); start += size {
				rows, _ := c.Query(ctx, l.Query, unique[start:min(start+size, len(unique))]) // ForEachRow returns the query's error
				var k K
				var v V
				if _, err := pgx.ForEachRow(rows, append([]any{&k}, l.Scan(&v)...), func() error {
					found[k] = append(found[k], v)
					return nil
				}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("load from %s: %w", l.DB.Name, err)
		}
	}
	out := make([]Row[K, V], len(keys))
	for i, k := range keys {
		out[i] = Row[K, V]{Key: k, Values: found[k], Found: found[k] != nil}
	}
	return out, nil
}

// Parallel runs loads (typically on different databases) at once and
// returns the first error.
func Parallel(ctx context.Context, loads ...func(ctx context.Context) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, load := range loads {
		g.Go(func() error { return load(gctx) })
	}
	return g.Wait()
}
