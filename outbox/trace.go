package outbox

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/fedsaga/fedsaga/tracing"
)

// Who publishes an event (the span attribute fedsaga.publisher).
const (
	bySaga  = "saga"
	byRelay = "relay"
)

// startPublish starts the span of one event's publish, a child of the span
// or the remote trace context in ctx (tracing.Continue). With tracing off
// it is a no-op span that still carries the remote context, so the message
// passes the trace on as it was written.
func startPublish(ctx context.Context, id, subject, by string) (context.Context, trace.Span) {
	return tracing.Tracer().Start(ctx, "publish order."+subject[strings.LastIndexByte(subject, '.')+1:],
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", subject),
			attribute.String("messaging.message.id", id),
			attribute.String("fedsaga.publisher", by),
		))
}

// endPublish ends a publish's span, failed when err is not nil.
func endPublish(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
