package federation

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"
)

// slowQueryTracer logs queries slower than the database's log_slow_queries,
// with the SQL text but never the parameter values.
type slowQueryTracer struct {
	database  string
	threshold time.Duration
	logger    zerolog.Logger
}

type queryStartKey struct{}

type queryStart struct {
	at  time.Time
	sql string
}

func (t *slowQueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, queryStartKey{}, queryStart{at: time.Now(), sql: data.SQL})
}

func (t *slowQueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	start, ok := ctx.Value(queryStartKey{}).(queryStart)
	if !ok {
		return
	}
	if d := time.Since(start.at); d >= t.threshold {
		t.logger.Warn().
			Str("database", t.database).
			Dur("duration", d).
			Dur("threshold", t.threshold).
			Str("sql", start.sql).
			Err(data.Err).
			Msg("slow query")
	}
}
