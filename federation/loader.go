package federation

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// Loader loads rows by key from one database with
// `WHERE key = ANY($1)`, BatchSize keys per query. Duplicate keys are
// fetched once; results come back in the order of the keys asked for; a key
// without a row is "not found" (Found false), apart from a failed load (an
// error).
type Loader[K comparable, V any] struct {
	DB        *DB
	Timeouts  Timeouts
	BatchSize int
	// Query selects the rows of the keys in $1 (an array).
	Query string
	// Scan reads one row: its key and value. A key may have several rows
	// (one-to-many); Load then returns them together, in row order.
	Scan func(pgx.CollectableRow) (K, V, error)
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
	seen := make(map[K]bool, len(keys))
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			unique = append(unique, k)
		}
	}
	found := make(map[K][]V, len(unique))
	if len(unique) > 0 {
		size := l.BatchSize
		if size <= 0 {
			size = 1000
		}
		err := l.DB.Read(ctx, l.Timeouts, func(ctx context.Context, q Querier) error {
			for start := 0; start < len(unique); start += size {
				chunk := unique[start:min(start+size, len(unique))]
				rows, err := q.Query(ctx, l.Query, chunk)
				if err != nil {
					return err
				}
				_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
					k, v, err := l.Scan(row)
					if err == nil {
						found[k] = append(found[k], v)
					}
					return struct{}{}, err
				})
				if err != nil {
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
		vs, ok := found[k]
		out[i] = Row[K, V]{Key: k, Values: vs, Found: ok}
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
