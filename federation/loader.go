package federation

import (
	"cmp"
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/fedsaga/fedsaga/federation/pg"
)

// Loader loads rows by key from one database with
// `WHERE key = ANY($1)`, BatchSize keys per query. Duplicate keys are
// fetched once; results come back in the order of the keys asked for; a key
// without a row is "not found" (Found false), apart from a failed load (an
// error).
type Loader[K comparable, V any] struct {
	DB        *pg.DB
	Timeouts  Timeouts
	BatchSize int
	// Query selects the rows of the keys in $1 (an array): the key first,
	// then V's columns.
	Query string
	// Scan returns where the columns after the key go in v. A key may have
	// several rows (one-to-many); Load then returns them together, in row
	// order.
	Scan func(v *V) []any
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
