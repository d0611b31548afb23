// Package tracing carries fedsaga's traces across process boundaries: the
// Temporal interceptor that traces sagas from the starting service's span
// through the workflow and every activity, and the W3C trace context
// (traceparent, tracestate) that the outbox stores and event messages
// carry. It uses the OpenTelemetry API only: spans go to the global
// TracerProvider, which package telemetry sets in fedsaga's processes, and
// which a service that imports this package sets itself. Without one, every
// span is a no-op.
//
// A service that starts sagas adds the interceptor to its Temporal client,
// so the saga's trace continues the span in the context it passes to
// starter.PlaceOrder:
//
//	c, err := client.Dial(client.Options{HostPort: addr, Interceptors: []interceptor.ClientInterceptor{tracing.Interceptor()}})
package tracing

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/log"
)

// Name is the instrumentation scope of fedsaga's own spans.
const Name = "github.com/fedsaga/fedsaga"

// Header names of the W3C trace context: the NATS headers of an event and
// the CloudEvents distributed-tracing extension attributes.
const (
	TraceParent = "traceparent"
	TraceState  = "tracestate"
)

// Interceptor is the Temporal SDK's OpenTelemetry tracing interceptor for
// a client's options (Interceptors). A worker made from the client uses
// it too: each workflow and activity (local activities and compensations
// included) gets a span in the trace of the code that started the saga,
// and the SDK's workflow and activity loggers add trace_id and span_id to
// every line.
func Interceptor() interceptor.ClientInterceptor {
	// NewTracer fails for no options it is given here.
	t, err := temporalotel.NewTracer(temporalotel.TracerOptions{})
	if err != nil {
		panic(err)
	}
	return interceptor.NewTracingInterceptor(logIDs{t})
}

// logIDs names the span's ids in the SDK's loggers as fedsaga's own log
// lines do: trace_id and span_id.
type logIDs struct{ interceptor.Tracer }

func (t logIDs) GetLogger(logger log.Logger, ref interceptor.TracerSpanRef) log.Logger {
	span, ok := ref.(interface{ SpanContext() trace.SpanContext })
	if !ok || !span.SpanContext().IsValid() {
		return logger
	}
	sc := span.SpanContext()
	return log.With(logger, "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
}

// Tracer is the tracer of fedsaga's own spans (event publish and consume).
// Taken from the global TracerProvider once: until telemetry sets one, it
// makes no-op spans that carry their parent's context, and then it
// delegates to the one set.
func Tracer() trace.Tracer { return tracer }

var tracer = otel.Tracer(Name)

// w3c reads and writes traceparent and tracestate, whatever propagator the
// process set globally: the outbox and the events carry these two.
var w3c propagation.TraceContext

// Context is a span context in its W3C form.
type Context struct {
	Parent string // traceparent; "" for none
	State  string // tracestate
}

// FromContext returns the W3C form of the span in ctx; Parent is "" when
// ctx holds no valid span (tracing off).
func FromContext(ctx context.Context) Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return Context{}
	}
	c := propagation.MapCarrier{}
	w3c.Inject(ctx, c)
	return Context{Parent: c[TraceParent], State: c[TraceState]}
}

// Continue returns ctx with tc as its remote parent when ctx holds no
// valid span and tc parses; otherwise ctx unchanged.
func Continue(ctx context.Context, tc Context) context.Context {
	if tc.Parent == "" || trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	return w3c.Extract(ctx, propagation.MapCarrier{TraceParent: tc.Parent, TraceState: tc.State})
}

// Headers are message headers with exact, case-sensitive keys, such as
// nats.Header.
type Headers map[string][]string

// Inject sets traceparent (and tracestate, when there is one) of the span
// in ctx on h; it sets nothing when ctx holds no valid span.
func Inject(ctx context.Context, h Headers) {
	tc := FromContext(ctx)
	if tc.Parent == "" {
		return
	}
	h[TraceParent] = []string{tc.Parent}
	if tc.State != "" {
		h[TraceState] = []string{tc.State}
	}
}

// Extract reads traceparent and tracestate from h, then, when h has none,
// from fallback (an event envelope's extension attributes).
func Extract(h Headers, fallback Context) Context {
	first := func(k string) string {
		if v := h[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if p := first(TraceParent); p != "" {
		return Context{Parent: p, State: first(TraceState)}
	}
	return fallback
}
