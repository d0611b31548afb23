package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedsaga/fedsaga/activities/spec"
	"github.com/fedsaga/fedsaga/events"
)

// PublishEvent publishes an order's outbox event to JetStream with
// Nats-Msg-Id equal to the event id, waits for the stream's acknowledgement
// and marks the outbox row published. Every retry sends the same bytes with
// the same id, and the stream keeps at most one message per event subject,
// so a retry never makes a second copy.
func (a *Activities) PublishEvent(ctx context.Context, in spec.PublishInput) (spec.PublishResult, error) {
	id := events.ID(in.OrderID, in.EventType)
	var subject, payload string
	err := a.Orders.Query(ctx, func(c *pgxpool.Conn) error {
		return c.QueryRow(ctx, `SELECT subject, payload::text FROM tb_outbox WHERE id = $1`, id).Scan(&subject, &payload)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return spec.PublishResult{}, business(spec.ErrOrderState, "no outbox event %s (%s) for order %s", id, in.EventType, in.OrderID)
	}
	if err != nil {
		return spec.PublishResult{}, fmt.Errorf("read outbox event %s: %w", id, err)
	}
	res, err := Publish(ctx, a.JetStream, id, subject, []byte(payload))
	if err != nil {
		return res, err
	}
	err = a.Orders.Query(ctx, func(c *pgxpool.Conn) error {
		_, err := c.Exec(ctx, `UPDATE tb_outbox SET published_at = now() WHERE id = $1 AND published_at IS NULL`, id)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("mark outbox event %s published: %w", id, err)
	}
	return res, nil
}

// Publish sends one event to JetStream and waits for the acknowledgement.
// A stream that already holds the event's subject (MaxMsgsPerSubject = 1 with
// DiscardNewPerSubject) refuses the copy: that counts as published.
func Publish(ctx context.Context, js jetstream.JetStream, id, subject string, payload []byte) (spec.PublishResult, error) {
	msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
	if err != nil {
		if alreadyStored(err) {
			return spec.PublishResult{EventID: id, Duplicate: true}, nil
		}
		return spec.PublishResult{}, fmt.Errorf("publish event %s on %s: %w", id, subject, err)
	}
	return spec.PublishResult{EventID: id, Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

func alreadyStored(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Description, "maximum messages per subject exceeded")
}
