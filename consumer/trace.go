package consumer

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/tracing"
)

// startProcess starts the span of one event's handling, in the trace the
// message carries: its traceparent header, else the envelope's
// distributed-tracing extension. The handler's ctx holds the span, so the
// service's own spans and log lines join the order's trace. With no
// TracerProvider set in the service, the span is a no-op that still
// carries the event's trace context.
func (c *Consumer) startProcess(ctx context.Context, msg jetstream.Msg, ev events.Envelope) (context.Context, trace.Span) {
	tc := tracing.Extract(tracing.Headers(msg.Headers()), tracing.Context{Parent: ev.TraceParent, State: ev.TraceState})
	return tracing.Tracer().Start(tracing.Continue(ctx, tc), "process "+ev.Type,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.message.id", ev.ID),
			attribute.String("messaging.consumer.group.name", c.opts.Durable),
		))
}
