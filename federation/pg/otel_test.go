package pg

import (
	"testing"

	"github.com/jackc/pgx/v5/multitracer"
)

// TestTracerOnlyWhenTracing: without WithTracing(true) the pools keep the
// query tracer alone, with no OpenTelemetry code on the statement path.
func TestTracerOnlyWhenTracing(t *testing.T) {
	q := &queryTracer{}
	if got := (openOptions{}).tracerFor(q); got != q {
		t.Errorf("tracing off: tracer %T, want the query tracer alone", got)
	}
	m, ok := (openOptions{tracing: true}).tracerFor(q).(*multitracer.Tracer)
	if !ok || len(m.QueryTracers) != 2 || m.QueryTracers[0] != q || len(m.PoolAcquireTracers) != 1 {
		t.Errorf("tracing on: %+v, want the query tracer and otelpgx's (queries and pool acquires)", m)
	}
}
