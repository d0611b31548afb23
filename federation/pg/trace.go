package pg

import (
	"context"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// QueryStats counts what a database's pool has run.
type QueryStats struct {
	Statements int64 // every statement, BEGIN, SET and COMMIT included
	Reads      int64 // statements that succeeded and wrote nothing: SELECT, and WITH … SELECT without a data-modifying WITH query
}

// Stats returns the database's query counts so far.
func (db *DB) Stats() QueryStats {
	return QueryStats{Statements: db.tracer.queries.Load(), Reads: db.tracer.reads.Load()}
}

// queryTracer counts a database's queries, measures their latency and logs
// those slower than log_slow_queries with their SQL but no parameter value;
// and every statement at debug level, or at info level with log_queries.
type queryTracer struct {
	threshold  time.Duration // 0: no slow-query log
	logQueries bool          // log every statement at info level
	logger     zerolog.Logger
	queries    atomic.Int64
	reads      atomic.Int64
	latency    prometheus.Observer
}

type queryStart struct {
	at  time.Time
	sql string
}

// writingCTE finds a WITH query that writes: `name AS [NOT] [MATERIALIZED] (INSERT|UPDATE|DELETE|MERGE`.
var writingCTE = regexp.MustCompile(`(?is)\bAS\s*(?:NOT\s+)?(?:MATERIALIZED\s*)?\(\s*(?:INSERT|UPDATE|DELETE|MERGE)\b`)

func (t *queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	t.queries.Add(1)
	return context.WithValue(ctx, t, queryStart{at: time.Now(), sql: data.SQL}) // keyed by the tracer
}

// TraceQueryEnd counts a read by its command tag, SELECT, and tells apart by
// its text a SELECT whose WITH queries write, which has that tag too.
func (t *queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	start, ok := ctx.Value(t).(queryStart)
	if !ok {
		return
	}
	d := time.Since(start.at)
	t.latency.Observe(d.Seconds())
	if data.Err == nil && data.CommandTag.Select() && !writingCTE.MatchString(start.sql) {
		t.reads.Add(1)
	}
	t.logStatement(start.sql, d, data)
	if t.threshold > 0 && d >= t.threshold {
		t.logger.Warn().
			Ctx(ctx). // trace_id and span_id, inside a trace
			Dur("duration", d).
			Dur("threshold", t.threshold).
			Str("sql", start.sql).
			Err(data.Err).
			Msg("slow query")
	}
}

// logStatement logs a statement that ran: at debug level (log.level debug,
// FEDSAGA_LOG=debug), or at info level when the database has log_queries.
// The line holds the database (the logger's), the SQL text, the duration
// and the rows returned or affected, never the parameter values.
func (t *queryTracer) logStatement(sql string, d time.Duration, data pgx.TraceQueryEndData) {
	ev := t.logger.Debug()
	if t.logQueries {
		ev = t.logger.Info()
	}
	if !ev.Enabled() {
		return
	}
	ev.Str("sql", sql).Dur("duration", d).Int64("rows", data.CommandTag.RowsAffected()).Err(data.Err).Msg("query")
}
