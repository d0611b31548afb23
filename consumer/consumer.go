// Package consumer reads fedsaga's order events from JetStream, for
// services that react to them: a durable consumer with explicit acks, event
// ids already processed are skipped, and a message that keeps failing is
// moved to a dead-letter stream after MaxDeliver attempts (driven by the
// server's max-deliveries advisories). A message that is not an order event
// (events.Decode refuses it) goes to the dead-letter stream at once, with a
// log line naming its subject and stream sequence.
//
//	c, err := consumer.New(ctx, js, consumer.Options{Durable: "billing", Types: []string{events.TypeConfirmed}})
//	err = c.Run(ctx, func(ctx context.Context, ev events.Envelope) error {
//		return bill(ctx, ev.Data) // an error: redelivered, up to MaxDeliver times
//	})
package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/events"
)

// Options configure a consumer.
type Options struct {
	// Stream is the events stream. Default "ORDERS".
	Stream string
	// Durable names the consumer; consumers with one name share the work
	// and the position. Required.
	Durable string
	// Types keeps only these event types (events.Types); empty keeps all.
	Types []string
	// MaxDeliver is how many times a message is delivered before it goes to
	// the dead-letter stream. Default 5.
	MaxDeliver int
	// AckWait is how long a delivery may take before it is redelivered.
	// Default 30s.
	AckWait time.Duration
	// DeadLetterStream stores the messages that exceeded MaxDeliver, on
	// "fedsaga.dlq.<original subject>". Default "ORDERS_DLQ".
	DeadLetterStream string
	// Seen remembers processed event ids; default NewMemorySeen with
	// SeenCapacity ids.
	Seen Seen
	// SeenCapacity is how many event ids the default Seen remembers (the
	// most recent ones). It must cover every event that can still be
	// redelivered after it was handled: the events handled within
	// MaxDeliver × AckWait (plus the backoff) of each other, at the
	// consumer's peak rate. Default 100000 (about 5 MB); ignored when Seen
	// is set.
	SeenCapacity int
	// Logger receives a line for every message sent to the dead-letter
	// stream. Default: no logging.
	Logger zerolog.Logger
	// ManageStreams lets New create the dead-letter stream when it is
	// missing (nats.jetstream.manage_streams); false requires it to exist.
	// New never changes an existing one: the worker keeps it as configured.
	// Default false.
	ManageStreams bool
	// BackOff is the server's redelivery schedule (JetStream BackOff), at
	// most MaxDeliver values; its first value replaces AckWait. With it, a
	// message whose handler failed is left to the schedule. Default none:
	// redelivered one second per delivery later, at most 30.
	BackOff []time.Duration
	// MaxAckPending caps the messages delivered and not acknowledged.
	// Default 0: JetStream's (1000), or 1 per partition when partitioned.
	MaxAckPending int
	// DeliverPolicy is where a new consumer starts: "all" (default), "new",
	// "last" or "last_per_subject".
	DeliverPolicy string
	// PartitionCount > 0 reads the partition copies of the events
	// ([nats.partitions] count, stream ORDERS_PARTITIONS) through one
	// durable per partition, PartitionDurable(Durable, N), with one message
	// pending per partition: one order's events are handled strictly in
	// order, by any number of instances. Default 0: the stream Stream.
	PartitionCount int
	// Partitions are the partitions this instance consumes. Default: all.
	Partitions []int
	// CheckOnly does not create or update the consumer: a missing or
	// different one is a *NotFoundError (manage_streams = false).
	CheckOnly bool
	// Key is the configuration key the consumer comes from, for errors;
	// Configured sets it.
	Key string
}

// Seen remembers which event ids were processed, so that a redelivered
// event (its ack was lost) is not handled twice. Back it by the consumer's
// own database to make that hold across restarts (a table with the event id
// as primary key, written in the handler's transaction, and rows older than
// the redelivery horizon deleted).
type Seen interface {
	Seen(ctx context.Context, id string) (bool, error)
	Mark(ctx context.Context, id string) error
}

// Handler handles one event; an error makes the message redelivered.
type Handler func(ctx context.Context, ev events.Envelope) error

// DeadLetterPrefix starts the subjects of the dead-letter stream.
const DeadLetterPrefix = "fedsaga.dlq."

// Consumer is a durable consumer of order events.
type Consumer struct {
	js   jetstream.JetStream
	opts Options
	cons []jetstream.Consumer // one, or one per partition consumed
}

// New creates (or updates) the durable consumer, and checks that the
// dead-letter stream exists (creating it with ManageStreams).
func New(ctx context.Context, js jetstream.JetStream, opts Options) (*Consumer, error) {
	if opts.Durable == "" {
		return nil, errors.New("consumer: Durable is required")
	}
	if opts.Stream == "" {
		opts.Stream = "ORDERS"
	}
	if opts.MaxDeliver <= 0 {
		opts.MaxDeliver = 5
	}
	if opts.AckWait <= 0 {
		opts.AckWait = 30 * time.Second
	}
	if opts.DeadLetterStream == "" {
		opts.DeadLetterStream = opts.Stream + "_DLQ"
	}
	if opts.SeenCapacity <= 0 {
		opts.SeenCapacity = DefaultSeenCapacity
	}
	if opts.Seen == nil {
		opts.Seen = NewMemorySeen(opts.SeenCapacity)
	}
	for _, t := range opts.Types {
		if err := events.CheckType(t); err != nil {
			return nil, fmt.Errorf("consumer: %w", err)
		}
	}
	if err := opts.checkPartitions(); err != nil {
		return nil, err
	}
	cons, err := Ensure(ctx, js, opts.specs(opts.Durable), !opts.CheckOnly, opts.Logger)
	if err != nil {
		return nil, err
	}
	if err := ensureDeadLetterStream(ctx, js, opts.DeadLetterStream, opts.ManageStreams); err != nil {
		return nil, err
	}
	return &Consumer{js: js, opts: opts, cons: cons}, nil
}

// Run consumes until ctx is done. Each event is handled at most once per
// Seen store; a failed one is redelivered with backoff; one that exceeds
// MaxDeliver is copied to the dead-letter stream.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	var dlqErr error
	var mu sync.Mutex
	for _, cons := range c.cons {
		info := cons.CachedInfo()
		advisory := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", info.Stream, info.Name)
		sub, err := c.js.Conn().Subscribe(advisory, func(m *nats.Msg) {
			if err := c.deadLetter(ctx, m.Data); err != nil {
				mu.Lock()
				dlqErr = err
				mu.Unlock()
			}
		})
		if err != nil {
			return fmt.Errorf("subscribe to %s: %w", advisory, err)
		}
		defer sub.Unsubscribe()
	}
	for _, cons := range c.cons { // each in its own goroutine: partitions run in parallel
		cc, err := cons.Consume(func(msg jetstream.Msg) {
			c.handle(ctx, msg, h)
		})
		if err != nil {
			return fmt.Errorf("consume %s: %w", cons.CachedInfo().Name, err)
		}
		defer cc.Stop()
	}
	<-ctx.Done()
	mu.Lock()
	defer mu.Unlock()
	return dlqErr
}

func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg, h Handler) {
	ev, err := events.Decode(msg.Data())
	if err != nil {
		c.malformed(ctx, msg, err)
		return
	}
	seen, err := c.opts.Seen.Seen(ctx, ev.ID)
	if err != nil {
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if seen {
		_ = msg.Ack()
		return
	}
	ctx, span := c.startProcess(ctx, msg, ev)
	defer span.End()
	if err := h(ctx, ev); err != nil {
		if len(c.opts.BackOff) > 0 {
			return // the server redelivers it on the BackOff schedule
		}
		meta, _ := msg.Metadata()
		delay := time.Second
		if meta != nil {
			delay = backoff(meta.NumDelivered)
		}
		_ = msg.NakWithDelay(delay)
		return
	}
	if err := c.opts.Seen.Mark(ctx, ev.ID); err != nil {
		_ = msg.NakWithDelay(time.Second)
		return
	}
	_ = msg.DoubleAck(ctx)
}

// backoff is the redelivery delay after the given number of failed
// deliveries: one second per delivery, at most 30.
func backoff(delivered uint64) time.Duration {
	const most = 30
	if delivered > most {
		delivered = most
	}
	return time.Duration(delivered) * time.Second
}

// malformed sends a message that is not an order event to the dead-letter
// stream and terminates it: it is never redelivered, and never dropped
// silently. When the dead-letter stream cannot take it, it is redelivered
// later.
func (c *Consumer) malformed(ctx context.Context, msg jetstream.Msg, cause error) {
	var seq, deliveries uint64
	stream, durable := c.opts.Stream, c.opts.Durable
	if meta, err := msg.Metadata(); err == nil { // a partition's stream and durable
		seq, deliveries, stream, durable = meta.Sequence.Stream, meta.NumDelivered, meta.Stream, meta.Consumer
	}
	log := c.opts.Logger.With().Str("subject", msg.Subject()).Uint64("stream_seq", seq).
		Str("stream", stream).Str("consumer", durable).Err(cause).Logger()
	dead := &jetstream.RawStreamMsg{Subject: msg.Subject(), Sequence: seq, Header: msg.Headers(), Data: msg.Data()}
	if err := c.publishDead(ctx, dead, stream, durable, deliveries, cause.Error()); err != nil {
		log.Error().AnErr("dlq_error", err).Msg("malformed message: dead-letter stream unavailable; redelivering later")
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	log.Warn().Str("dlq_stream", c.opts.DeadLetterStream).Msg("malformed message moved to the dead-letter stream")
	_ = msg.Term()
}

// DefaultSeenCapacity is the default of Options.SeenCapacity.
const DefaultSeenCapacity = 100_000

// MemorySeen is a Seen in memory that remembers the most recent event ids
// it marked, up to its capacity: the oldest id is forgotten first. Memory
// stays bounded however long the consumer runs.
type MemorySeen struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string // marked ids, oldest at next once full
	next int
}

// NewMemorySeen returns a MemorySeen for up to capacity ids (at least 1).
func NewMemorySeen(capacity int) *MemorySeen {
	capacity = max(capacity, 1)
	return &MemorySeen{ids: make(map[string]struct{}, capacity), ring: make([]string, 0, capacity)}
}

// Seen reports whether id is among the ids remembered.
func (m *MemorySeen) Seen(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.ids[id]
	return ok, nil
}

// Mark remembers id, forgetting the oldest id when full.
func (m *MemorySeen) Mark(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.ids[id]; ok {
		return nil
	}
	if len(m.ring) < cap(m.ring) {
		m.ring = append(m.ring, id)
	} else {
		delete(m.ids, m.ring[m.next])
		m.ring[m.next] = id
		m.next = (m.next + 1) % len(m.ring)
	}
	m.ids[id] = struct{}{}
	return nil
}

// Len is how many ids are remembered: at most the capacity.
func (m *MemorySeen) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.ids)
}
