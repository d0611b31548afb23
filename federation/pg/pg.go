// Package pg is fedsaga's database layer: a pgx pool per configured
// database, transactions, the typed errors DatabaseConnectionError and
// PoolExhaustedError, the pools' metrics and a query tracer that counts,
// times and logs statements. It knows nothing of sagas or of what the
// databases hold. (pg, not db: pg.DB does not stutter.)
package pg

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
)

// Registry is the set of named database pools.
type Registry struct {
	dbs     map[string]*DB
	latency *prometheus.HistogramVec
}

// DB is one named database and its pools.
type DB struct {
	Name   string
	cfg    config.Database
	pool   *pgxpool.Pool
	tracer *queryTracer

	mu    sync.Mutex
	pools map[string]*pgxpool.Pool // by label: "main" (pool) and "read-<statement_timeout>"
}

// Open builds a pool per configured database. Pools connect lazily, so Open
// fails only on a malformed configuration; Ping and Health reach them.
func Open(dbs map[string]config.Database, logger zerolog.Logger, opts ...Option) (*Registry, error) {
	var o openOptions
	for _, opt := range opts {
		opt(&o)
	}
	r := &Registry{dbs: make(map[string]*DB, len(dbs)), latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "fedsaga_database_query_seconds",
		Help:    "Query latency per database.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"database"})}
	for name, cfg := range dbs {
		db, err := r.open(name, cfg, logger, o)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.dbs[name] = db
	}
	return r, nil
}

func (r *Registry) open(name string, cfg config.Database, logger zerolog.Logger, o openOptions) (*DB, error) {
	if err := config.CheckDatabaseURL(cfg.URL); err != nil {
		return nil, &config.Error{Key: "databases." + name + ".url", Err: err}
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, parseError(name, cfg.URL, err)
	}
	pc.MaxConns = cfg.PoolSize
	pc.MaxConnIdleTime = cfg.IdleMaxAge
	pc.ConnConfig.ConnectTimeout = cfg.PoolTimeout
	if cfg.StatementTimeout > 0 {
		pc.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "fedsaga"
	tracer := &queryTracer{threshold: cfg.LogSlowQueries, logQueries: cfg.LogQueries, latency: r.latency.WithLabelValues(name),
		logger: logger.With().Str("database", name).Logger()}
	pc.ConnConfig.Tracer = o.tracerFor(tracer)
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("databases.%s: %w", name, err)
	}
	return &DB{Name: name, cfg: cfg, pool: pool, tracer: tracer, pools: map[string]*pgxpool.Pool{"main": pool}}, nil
}

// parseError is pgx's err about url, the url of database name, with the
// key named and every secret of url hidden.
func parseError(name, url string, err error) error {
	if pe, ok := errors.AsType[*pgconn.ParseConfigError](err); ok {
		pe.ConnString = "" // pgx's redaction of it is best effort
		err = errors.New(strings.TrimPrefix(pe.Error(), "cannot parse ``: "))
	}
	return &config.Error{Key: "databases." + name + ".url", Err: errors.New(config.RedactText(err.Error(), url))}
}

// DB returns the named database.
func (r *Registry) DB(name string) (*DB, error) {
	db, ok := r.dbs[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (configured: %v): add [databases.%s] to the configuration",
			ErrUnknownDatabase, name, r.Names(), name)
	}
	return db, nil
}

// Names lists the configured database names, sorted.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.dbs))
}

// Close closes every pool.
func (r *Registry) Close() {
	for _, db := range r.dbs {
		db.mu.Lock()
		for _, p := range db.pools {
			p.Close()
		}
		db.mu.Unlock()
	}
}

// Pool is the database's pgx pool, for code that needs it whole (migrations).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Query runs fn on a connection from the pool, outside a transaction,
// waiting at most pool_timeout for it: *PoolExhaustedError when every
// connection stayed busy, *DatabaseConnectionError when none could be
// opened. An error from fn is returned as is.
func (db *DB) Query(ctx context.Context, fn func(*pgxpool.Conn) error) error {
	return db.acquireFunc(ctx, db.pool, fn)
}

// Tx runs fn in one transaction (pgx.BeginFunc), committed when fn returns
// nil. An error from fn rolls it back and is returned as is; failing to
// get a connection, begin or commit is as Query's.
func (db *DB) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return db.Query(ctx, func(c *pgxpool.Conn) error {
		var fnErr error
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			fnErr = fn(tx)
			return fnErr
		})
		if err != nil && fnErr == nil {
			return db.connErr(err)
		}
		return err
	})
}

// Read runs fn on a connection of a read-only pool whose connections carry
// statement_timeout timeout, so that the server cancels a slow read itself
// at no extra round trip. The pool opens on first use; acquiring fails as
// Query's does.
func (db *DB) Read(ctx context.Context, timeout time.Duration, fn func(*pgxpool.Conn) error) error {
	label := "read-" + timeout.String()
	db.mu.Lock()
	pool, ok := db.pools[label]
	if !ok {
		cfg := db.pool.Config().Copy()
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
		var err error
		if pool, err = pgxpool.NewWithConfig(context.Background(), cfg); err != nil {
			db.mu.Unlock()
			return db.connErr(err)
		}
		db.pools[label] = pool
	}
	db.mu.Unlock()
	return db.acquireFunc(ctx, pool, fn)
}

// acquireFunc runs fn on a connection of pool and translates the failures
// to get one.
func (db *DB) acquireFunc(ctx context.Context, pool *pgxpool.Pool, fn func(*pgxpool.Conn) error) error {
	actx, cancel := context.WithTimeout(ctx, db.cfg.PoolTimeout)
	defer cancel()
	c, err := pool.Acquire(actx)
	switch {
	case err == nil:
		defer c.Release()
		return fn(c)
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && pool.Stat().TotalConns() >= db.cfg.PoolSize:
		return &PoolExhaustedError{Database: db.Name, Waited: db.cfg.PoolTimeout, PoolSize: db.cfg.PoolSize}
	}
	return db.connErr(err)
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.Query(ctx, func(c *pgxpool.Conn) error {
		if err := c.Ping(ctx); err != nil {
			return db.connErr(err)
		}
		return nil
	})
}

func (db *DB) connErr(err error) error {
	url := db.cfg.URL
	return &DatabaseConnectionError{Database: db.Name, URL: config.RedactURL(url), Err: err,
		redact: func(s string) string { return config.RedactText(s, url) }}
}

// Status is the outcome of checking one database.
type Status struct {
	Database string
	URL      string // redacted
	Latency  time.Duration
	Err      error
}

// Health pings the named databases (all when names is empty) concurrently.
func (r *Registry) Health(ctx context.Context, names ...string) ([]Status, error) {
	if len(names) == 0 {
		names = r.Names()
	}
	out := make([]Status, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		db, err := r.DB(n)
		if err != nil {
			wg.Wait()
			return nil, err
		}
		wg.Go(func() {
			start := time.Now()
			err := db.Ping(ctx)
			out[i] = Status{Database: db.Name, URL: config.RedactURL(db.cfg.URL), Latency: time.Since(start), Err: err}
		})
	}
	wg.Wait()
	return out, nil
}

// ErrUnknownDatabase is returned for a database name that is not configured.
var ErrUnknownDatabase = errors.New("unknown database")

// DatabaseConnectionError means fedsaga could not reach a database.
type DatabaseConnectionError struct {
	Database string // configured name, e.g. "inventory"
	URL      string // connection URL with the password redacted
	Err      error

	// redact hides the secrets of the connection URL wherever Err's text
	// quotes them (a password misplaced into the host or database name).
	redact func(string) string
}

// Error names the database, its redacted URL and the config key; the
// secrets of the URL are hidden from the cause's text too.
func (e *DatabaseConnectionError) Error() string {
	msg := fmt.Sprintf("DatabaseConnectionError: database %q at %s: %v; check it with `fedsaga health --database %s` and the config key databases.%s.url",
		e.Database, e.URL, e.Err, e.Database, e.Database)
	if e.redact != nil {
		msg = e.redact(msg)
	}
	return msg
}

func (e *DatabaseConnectionError) Unwrap() error { return e.Err }

// PoolExhaustedError means every connection of a pool stayed busy for longer
// than the pool's pool_timeout.
type PoolExhaustedError struct {
	Database string
	Waited   time.Duration // the configured pool_timeout
	PoolSize int32
}

func (e *PoolExhaustedError) Error() string {
	return fmt.Sprintf("PoolExhaustedError: database %q: all %d connections busy for longer than pool_timeout %s; raise databases.%s.pool_size or look at slow queries (databases.%s.log_slow_queries)",
		e.Database, e.PoolSize, e.Waited, e.Database, e.Database)
}
