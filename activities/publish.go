package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/outbox"
	"github.com/fedsaga/fedsaga/tracing"
)

// PublishEvent publishes an order's outbox event to JetStream with
// Nats-Msg-Id equal to the event id, waits for the stream's acknowledgement
// and marks the outbox row published. Every retry sends the same bytes with
// the same id, and the stream keeps at most one message per event subject,
// so a retry never makes a second copy.
func (a *Activities) PublishEvent(ctx context.Context, in spec.PublishInput) (events.PublishResult, error) {
	id := events.ID(in.OrderID, in.EventType)
	var subject, payload string
	var tc tracing.Context
	err := a.Orders.Query(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, `SELECT subject, payload::text, coalesce(traceparent, ''), coalesce(tracestate, '')
			FROM tb_outbox WHERE id = $1`, id).Scan(&subject, &payload, &tc.Parent, &tc.State)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return events.PublishResult{}, business(spec.ErrOrderState, "no outbox event %s (%s) for order %s", id, in.EventType, in.OrderID)
	}
	if err != nil {
		return events.PublishResult{}, fmt.Errorf("read outbox event %s: %w", id, err)
	}
	// The activity's span is the publish's parent; without one (tracing
	// off here), the trace context the row was written with.
	res, err := outbox.Publish(tracing.Continue(ctx, tc), a.JetStream, id, subject, []byte(payload))
	if err != nil {
		return res, err
	}
	if err := outbox.PublishPartition(ctx, a.JetStream, a.Partitions, id, subject, []byte(payload)); err != nil {
		return res, err
	}
	// The mark does not wait for the WAL flush: should it be lost, the
	// event is published again and the stream stores it once.
	err = a.Orders.Query(ctx, func(c *pgxpool.Conn) error {
		_, err := outbox.MarkPublished(ctx, c, id)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("event %s: %w", id, err)
	}
	return res, nil
}
