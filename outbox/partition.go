package outbox

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/tracing"
)

// PublishPartition stores the partition copy of an event (subject is the
// event's subject) among n partitions: the same bytes and Nats-Msg-Id on
// events.PartitionSubjectOf(subject, n), in the stream ORDERS_PARTITIONS.
// Like Publish, a copy the stream already holds counts as published. n 0
// (partitions off) publishes nothing.
func PublishPartition(ctx context.Context, js jetstream.JetStream, n int, id, subject string, payload []byte) error {
	if n <= 0 {
		return nil
	}
	ps, err := events.PartitionSubjectOf(subject, n)
	if err != nil {
		return err
	}
	if _, err := js.PublishMsg(ctx, eventMsg(ctx, ps, payload), jetstream.WithMsgID(id)); err != nil && !AlreadyStored(err) {
		return fmt.Errorf("publish event %s on %s: %w", id, ps, err)
	}
	return nil
}

// partitionFutures publishes the partition copies of rows (partitions on)
// asynchronously; a row whose copy could not be sent has a nil future and
// an error.
func (r *Relay) partitionFutures(ctx context.Context, rows []pending) ([]jetstream.PubAckFuture, []error) {
	futures := make([]jetstream.PubAckFuture, len(rows))
	var errs []error
	if r.opts.Partitions <= 0 {
		return futures, nil
	}
	for i, x := range rows {
		ps, err := events.PartitionSubjectOf(x.subject, r.opts.Partitions)
		if err == nil {
			futures[i], err = r.js.PublishMsgAsync(eventMsg(tracing.Continue(ctx, x.trace), ps, x.payload), jetstream.WithMsgID(x.id))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("publish %s (partition copy): %w", x.id, err))
		}
	}
	return futures, errs
}

// awaitStored waits for a publish's acknowledgement: nil when the stream
// stored the message or already held its subject.
func awaitStored(ctx context.Context, f jetstream.PubAckFuture) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		if AlreadyStored(err) {
			return nil
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
