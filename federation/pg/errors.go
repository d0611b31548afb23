package pg

import (
	"errors"
	"fmt"
	"time"
)

// ErrUnknownDatabase is returned for a database name that is not configured.
var ErrUnknownDatabase = errors.New("unknown database")

// DatabaseConnectionError means fedsaga could not reach a database.
type DatabaseConnectionError struct {
	Database string // configured name, e.g. "inventory"
	URL      string // connection URL with the password redacted
	Err      error
}

func (e *DatabaseConnectionError) Error() string {
	return fmt.Sprintf("DatabaseConnectionError: database %q at %s: %v; check it with `fedsaga health --database %s` and the config key databases.%s.url",
		e.Database, e.URL, e.Err, e.Database, e.Database)
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
