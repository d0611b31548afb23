// Package consumer reads fedsaga's order events from JetStream, for
// services that react to them: a durable consumer with explicit acks, event
// ids already processed are skipped, and a message that keeps failing is
// moved to a dead-letter stream after MaxDeliver attempts (driven by the
// server's max-deliveries advisories).
//
//	c, err := consumer.New(ctx, js, consumer.Options{Durable: "billing", Types: []string{events.TypeConfirmed}})
//	err = c.Run(ctx, func(ctx context.Context, ev events.Envelope) error {
//		return bill(ctx, ev.Data) // an error: redelivered, up to MaxDeliver times
//	})
package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
	// Seen remembers processed event ids; default an in-memory set.
	Seen Seen
}

// Seen remembers which event ids were processed, so that a redelivered
// event (its ack was lost) is not handled twice. Back it by the consumer's
// own database to make that hold across restarts.
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
	cons jetstream.Consumer
}

// New creates (or updates) the durable consumer and the dead-letter stream.
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
	if opts.Seen == nil {
		opts.Seen = &memorySeen{ids: map[string]bool{}}
	}
	var filters []string
	for _, t := range opts.Types {
		if err := events.CheckType(t); err != nil {
			return nil, fmt.Errorf("consumer: %w", err)
		}
		filters = append(filters, events.Subject("*", t))
	}
	cc := jetstream.ConsumerConfig{
		Durable:       opts.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		MaxDeliver:    opts.MaxDeliver,
		AckWait:       opts.AckWait,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	switch len(filters) {
	case 0:
	case 1:
		cc.FilterSubject = filters[0] // one filter also works on servers before 2.10
	default:
		cc.FilterSubjects = filters
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, opts.Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("consumer %s on stream %s: %w", opts.Durable, opts.Stream, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     opts.DeadLetterStream,
		Subjects: []string{DeadLetterPrefix + ">"},
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", opts.DeadLetterStream, err)
	}
	return &Consumer{js: js, opts: opts, cons: cons}, nil
}

// Run consumes until ctx is done. Each event is handled at most once per
// Seen store; a failed one is redelivered with backoff; one that exceeds
// MaxDeliver is copied to the dead-letter stream.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	advisory := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", c.opts.Stream, c.opts.Durable)
	var dlqErr error
	var mu sync.Mutex
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

	cc, err := c.cons.Consume(func(msg jetstream.Msg) {
		c.handle(ctx, msg, h)
	})
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.opts.Durable, err)
	}
	defer cc.Stop()
	<-ctx.Done()
	mu.Lock()
	defer mu.Unlock()
	return dlqErr
}

func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg, h Handler) {
	var ev events.Envelope
	if err := json.Unmarshal(msg.Data(), &ev); err != nil || ev.ID == "" {
		_ = msg.Term() // not an event: never redeliver
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
	if err := h(ctx, ev); err != nil {
		meta, _ := msg.Metadata()
		delay := time.Second
		if meta != nil {
			delay = min(time.Duration(meta.NumDelivered)*time.Second, 30*time.Second)
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

// deadLetter copies the message an advisory names to the dead-letter
// stream, once (the Nats-Msg-Id is derived from the stream sequence).
func (c *Consumer) deadLetter(ctx context.Context, advisory []byte) error {
	var adv struct {
		Stream     string `json:"stream"`
		Consumer   string `json:"consumer"`
		StreamSeq  uint64 `json:"stream_seq"`
		Deliveries uint64 `json:"deliveries"`
	}
	if err := json.Unmarshal(advisory, &adv); err != nil {
		return fmt.Errorf("max-deliveries advisory: %w", err)
	}
	stream, err := c.js.Stream(ctx, adv.Stream)
	if err != nil {
		return err
	}
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return fmt.Errorf("dead-letter message %d of %s: %w", adv.StreamSeq, adv.Stream, err)
	}
	msg := &nats.Msg{Subject: DeadLetterPrefix + raw.Subject, Data: raw.Data, Header: nats.Header{}}
	for k, v := range raw.Header {
		msg.Header[k] = v
	}
	msg.Header.Set("Fedsaga-Original-Subject", raw.Subject)
	msg.Header.Set("Fedsaga-Original-Stream", adv.Stream)
	msg.Header.Set("Fedsaga-Original-Sequence", fmt.Sprint(adv.StreamSeq))
	msg.Header.Set("Fedsaga-Consumer", adv.Consumer)
	msg.Header.Set("Fedsaga-Deliveries", fmt.Sprint(adv.Deliveries))
	msg.Header.Del(jetstream.MsgIDHeader)
	_, err = c.js.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("dlq-%s-%s-%d", adv.Stream, adv.Consumer, adv.StreamSeq)))
	return err
}

type memorySeen struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (m *memorySeen) Seen(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ids[id], nil
}

func (m *memorySeen) Mark(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ids[id] = true
	return nil
}
