package pg

import (
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
)

// Option changes how Open sets up the pools.
type Option func(*openOptions)

type openOptions struct {
	tracing bool
}

// WithTracing makes every statement (and every wait for a connection) a
// span, through otelpgx and the global TracerProvider, beside the query
// tracer that counts, times and logs them. A statement gets a span only
// inside a recording span, such as an activity's: no trace, no cost but a
// check. Without this option (telemetry off) the pools have no OpenTelemetry
// code at all.
func WithTracing(on bool) Option {
	return func(o *openOptions) { o.tracing = on }
}

// tracerFor is the pool's pgx tracer: the query tracer, combined with
// otelpgx's when tracing.
func (o openOptions) tracerFor(q *queryTracer) pgx.QueryTracer {
	if !o.tracing {
		return q
	}
	return multitracer.New(q, otelpgx.NewTracer())
}
