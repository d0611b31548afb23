// Package federation owns fedsaga's named PostgreSQL pools: one pgx pool per
// configured database, each with its own size, acquire timeout, statement
// timeout and slow-query threshold. It knows nothing of sagas.
package federation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
)

// Registry is the set of named database pools.
type Registry struct {
	dbs map[string]*DB
}

// DB is one named database and its pool.
type DB struct {
	Name   string
	cfg    config.Database
	url    string // redacted
	pool   *pgxpool.Pool
	tracer *queryTracer

	readMu    sync.Mutex
	readPools map[time.Duration]*pgxpool.Pool // federated reads, by statement_timeout
}

// QueryStats counts what a database's pool has run.
type QueryStats struct {
	Statements int64 // every statement, BEGIN, SET and COMMIT included
	Reads      int64 // SELECT (and WITH) statements
}

// Stats returns the database's query counts so far.
func (db *DB) Stats() QueryStats {
	return QueryStats{Statements: db.tracer.queries.Load(), Reads: db.tracer.reads.Load()}
}

// Open builds a pool for every configured database. Pools connect lazily:
// Open fails only on a malformed configuration; use Ping or Health to check
// that the databases are reachable.
func Open(dbs map[string]config.Database, logger zerolog.Logger) (*Registry, error) {
	r := &Registry{dbs: make(map[string]*DB, len(dbs))}
	for name, cfg := range dbs {
		db, err := open(name, cfg, logger)
		if err != nil {
			r.Close()
			return nil, err
		}
		r.dbs[name] = db
	}
	return r, nil
}

func open(name string, cfg config.Database, logger zerolog.Logger) (*DB, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("databases.%s.url: %w", name, errors.Unwrap(err))
	}
	pc.MaxConns = cfg.PoolSize
	pc.MaxConnIdleTime = cfg.IdleMaxAge
	pc.ConnConfig.ConnectTimeout = cfg.PoolTimeout
	if cfg.StatementTimeout > 0 {
		pc.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "fedsaga"
	tracer := &queryTracer{
		database:  name,
		threshold: cfg.LogSlowQueries,
		logger:    logger,
		latency:   queryLatency.WithLabelValues(name),
	}
	pc.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("databases.%s: %w", name, err)
	}
	return &DB{Name: name, cfg: cfg, url: config.RedactURL(cfg.URL), pool: pool, tracer: tracer}, nil
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
		db.pool.Close()
		db.readMu.Lock()
		for _, p := range db.readPools {
			p.Close()
		}
		db.readMu.Unlock()
	}
}

// Pool is the database's pgx pool, for code that needs it whole (migrations).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// URL is the database's connection URL with the password redacted.
func (db *DB) URL() string { return db.url }

// Acquire takes a connection from the pool, waiting at most pool_timeout.
// It fails with *PoolExhaustedError when every connection stayed busy, and
// with *DatabaseConnectionError when a new connection could not be opened.
func (db *DB) Acquire(ctx context.Context) (*pgxpool.Conn, error) {
	return db.acquire(ctx, db.pool)
}

func (db *DB) acquire(ctx context.Context, pool *pgxpool.Pool) (*pgxpool.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, db.cfg.PoolTimeout)
	defer cancel()
	conn, err := pool.Acquire(actx)
	if err == nil {
		return conn, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) && pool.Stat().TotalConns() >= db.cfg.PoolSize {
		return nil, &PoolExhaustedError{Database: db.Name, Waited: db.cfg.PoolTimeout, PoolSize: db.cfg.PoolSize}
	}
	return nil, &DatabaseConnectionError{Database: db.Name, URL: db.url, Err: err}
}

// Tx runs fn in one transaction on a connection from the pool and commits
// when fn returns nil. An error from fn rolls the transaction back and is
// returned as is; failures to reach the database are *DatabaseConnectionError.
func (db *DB) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return db.connErr(err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return db.connErr(err)
	}
	return nil
}

// Query runs fn on a connection from the pool, outside a transaction.
func (db *DB) Query(ctx context.Context, fn func(*pgxpool.Conn) error) error {
	conn, err := db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return fn(conn)
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
	return &DatabaseConnectionError{Database: db.Name, URL: db.url, Err: err}
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
	dbs := make([]*DB, len(names))
	for i, n := range names {
		db, err := r.DB(n)
		if err != nil {
			return nil, err
		}
		dbs[i] = db
	}
	out := make([]Status, len(dbs))
	done := make(chan struct{})
	for i, db := range dbs {
		go func() {
			defer func() { done <- struct{}{} }()
			start := time.Now()
			err := db.Ping(ctx)
			out[i] = Status{Database: db.Name, URL: db.url, Latency: time.Since(start), Err: err}
		}()
	}
	for range dbs {
		<-done
	}
	return out, nil
}
