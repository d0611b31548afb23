package federation

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// queryTracer counts the queries of a database, measures their latency and
// logs those slower than log_slow_queries with the SQL text but never the
// parameter values.
type queryTracer struct {
	database  string
	threshold time.Duration // 0: no slow-query log
	logger    zerolog.Logger
	queries   atomic.Int64 // every statement, BEGIN and COMMIT included
	reads     atomic.Int64 // SELECT and WITH statements
	latency   prometheus.Observer
}

type queryStartKey struct{}

type queryStart struct {
	at  time.Time
	sql string
}

func (t *queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	t.queries.Add(1)
	if sql := strings.TrimSpace(data.SQL); len(sql) >= 6 && (strings.EqualFold(sql[:6], "select") || strings.EqualFold(sql[:4], "with")) {
		t.reads.Add(1)
	}
	return context.WithValue(ctx, queryStartKey{}, queryStart{at: time.Now(), sql: data.SQL})
}

func (t *queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	start, ok := ctx.Value(queryStartKey{}).(queryStart)
	if !ok {
		return
	}
	d := time.Since(start.at)
	t.latency.Observe(d.Seconds())
	if t.threshold > 0 && d >= t.threshold {
		t.logger.Warn().
			Str("database", t.database).
			Dur("duration", d).
			Dur("threshold", t.threshold).
			Str("sql", start.sql).
			Err(data.Err).
			Msg("slow query")
	}
}

// queryLatency is the query latency per database, shared by every registry
// of the process.
var queryLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "fedsaga_database_query_seconds",
	Help:    "Query latency per database.",
	Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
}, []string{"database"})
