package outbox

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Execer runs a statement: a pgx.Tx, a *pgxpool.Conn or a *pgxpool.Pool.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// markPublished marks outbox rows published. Its transaction commits
// without waiting for PostgreSQL to flush the WAL (synchronous_commit off
// for that transaction only: set_config's is_local). The mark only
// records what JetStream holds already: if a crash of PostgreSQL loses it,
// the row is published again, by the saga's retry or by the relay, and
// the stream stores it once (the same Nats-Msg-Id in its duplicate window,
// one message per event subject after it: AlreadyStored). Every other
// write of a saga waits for its flush.
//
// The setting is a condition of the UPDATE, so a row is written only when
// it was applied; a mark that finds nothing to write commits nothing.
const markPublished = `UPDATE tb_outbox SET published_at = now()
	WHERE id = ANY($1) AND published_at IS NULL
	  AND set_config('synchronous_commit', 'off', true) = 'off'`

// MarkPublished marks the outbox rows ids published, in the transaction
// of db (a pgx.Tx) or in its own; that transaction's commit does not wait
// for the WAL flush (see markPublished). It returns how many rows it
// marked: those already marked are left as they are.
func MarkPublished(ctx context.Context, db Execer, ids ...string) (int64, error) {
	tag, err := db.Exec(ctx, markPublished, ids)
	if err != nil {
		return 0, fmt.Errorf("mark outbox rows published: %w", err)
	}
	return tag.RowsAffected(), nil
}
