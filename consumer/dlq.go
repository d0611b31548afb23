package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Headers of a dead letter: where the message came from and why it is
// there. The original message's own headers are kept beside them, but its
// Nats-Msg-Id, which is in HeaderOriginalMsgID.
const (
	HeaderOriginalSubject  = "Fedsaga-Original-Subject"
	HeaderOriginalStream   = "Fedsaga-Original-Stream"
	HeaderOriginalSequence = "Fedsaga-Original-Sequence"
	HeaderOriginalMsgID    = "Fedsaga-Original-Msg-Id" // the event id
	HeaderConsumer         = "Fedsaga-Consumer"
	HeaderDeliveries       = "Fedsaga-Deliveries"
	HeaderReason           = "Fedsaga-Reason"
	// HeaderReplayOf marks a message that `fedsaga events dlq replay`
	// republished: the dead-letter stream and the dead letter's id.
	HeaderReplayOf = "Fedsaga-Replay-Of"
)

// Advisory is the part of the server's max-deliveries advisory
// (io.nats.jetstream.advisory.v1.max_deliver) that names the message.
type Advisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// errGone is a message that an advisory names but the stream no longer
// holds (its limits removed it, or an operator did).
var errGone = errors.New("the message is no longer in its stream")

// moveAdvisory copies the message that a max-deliveries advisory names to
// the dead-letter stream dlq, once.
func moveAdvisory(ctx context.Context, js jetstream.JetStream, dlq string, adv Advisory, logger zerolog.Logger) error {
	stream, err := js.Stream(ctx, adv.Stream)
	if err != nil {
		return fmt.Errorf("stream %s of a max-deliveries advisory: %w", adv.Stream, err)
	}
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("message %d of %s (consumer %s): %w", adv.StreamSeq, adv.Stream, adv.Consumer, errGone)
	}
	if err != nil {
		return fmt.Errorf("dead-letter message %d of %s: %w", adv.StreamSeq, adv.Stream, err)
	}
	reason := fmt.Sprintf("not acknowledged after %d deliveries", adv.Deliveries)
	if err := publishDead(ctx, js, dlq, raw, adv.Stream, adv.Consumer, adv.Deliveries, reason); err != nil {
		return err
	}
	logger.Warn().Str("subject", raw.Subject).Uint64("stream_seq", adv.StreamSeq).Str("stream", adv.Stream).
		Str("consumer", adv.Consumer).Uint64("deliveries", adv.Deliveries).
		Str("dlq_stream", dlq).Msg("message failed every delivery: moved to the dead-letter stream")
	return nil
}

// publishDead stores a copy of raw on the dead-letter stream dlq, with
// headers naming where it came from, once per (stream, consumer,
// sequence): the Nats-Msg-Id is derived from them (inside the stream's
// duplicate window), and a dead letter already stored for them is found
// by its subject (after the window).
func publishDead(ctx context.Context, js jetstream.JetStream, dlq string, raw *jetstream.RawStreamMsg, stream, consumer string, deliveries uint64, reason string) error {
	dead := DeadLetterPrefix + raw.Subject
	if ds, err := js.Stream(ctx, dlq); err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", dlq, err)
	} else if last, err := ds.GetLastMsgForSubject(ctx, dead); err == nil && last.Header.Get(HeaderOriginalStream) == stream &&
		last.Header.Get(HeaderConsumer) == consumer && last.Header.Get(HeaderOriginalSequence) == fmt.Sprint(raw.Sequence) {
		return nil // stored already
	}
	msg := &nats.Msg{Subject: dead, Data: raw.Data, Header: nats.Header{}}
	for k, v := range raw.Header {
		msg.Header[k] = v
	}
	msg.Header.Set(HeaderOriginalSubject, raw.Subject)
	msg.Header.Set(HeaderOriginalStream, stream)
	msg.Header.Set(HeaderOriginalSequence, fmt.Sprint(raw.Sequence))
	msg.Header.Set(HeaderConsumer, consumer)
	msg.Header.Set(HeaderDeliveries, fmt.Sprint(deliveries))
	if id := raw.Header.Get(jetstream.MsgIDHeader); id != "" {
		msg.Header.Set(HeaderOriginalMsgID, id)
	}
	if reason != "" {
		msg.Header.Set(HeaderReason, reason)
	}
	msg.Header.Del(jetstream.MsgIDHeader)
	_, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(fmt.Sprintf("dlq-%s-%s-%d", stream, consumer, raw.Sequence)),
		jetstream.WithExpectStream(dlq))
	return err
}

// deadLetter copies the message an advisory names to the dead-letter
// stream, once. A message that is gone is logged, not retried.
func (c *Consumer) deadLetter(ctx context.Context, advisory []byte) error {
	var adv Advisory
	if err := json.Unmarshal(advisory, &adv); err != nil {
		return fmt.Errorf("max-deliveries advisory: %w", err)
	}
	err := moveAdvisory(ctx, c.js, c.opts.DeadLetterStream, adv, c.opts.Logger)
	if errors.Is(err, errGone) {
		c.opts.Logger.Error().Err(err).Msg("max-deliveries advisory for a message that is gone: nothing to dead-letter")
		return nil
	}
	return err
}

func (c *Consumer) publishDead(ctx context.Context, raw *jetstream.RawStreamMsg, stream, consumer string, deliveries uint64, reason string) error {
	return publishDead(ctx, c.js, c.opts.DeadLetterStream, raw, stream, consumer, deliveries, reason)
}

// ensureDeadLetterStream checks that the dead-letter stream exists, and
// creates it when it does not and manage is set. It never changes one that
// exists.
func ensureDeadLetterStream(ctx context.Context, js jetstream.JetStream, name string, manage bool) error {
	_, err := js.Stream(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound) && manage:
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:     name,
			Subjects: []string{DeadLetterPrefix + ">"},
			Storage:  jetstream.FileStorage,
		})
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("dead-letter stream %s does not exist and nats.jetstream.manage_streams is false: "+
			"create it (subjects %q, as [nats.jetstream.streams.%s] configures it), or set manage_streams = true", name, DeadLetterPrefix+">", name)
	}
	if err != nil {
		return fmt.Errorf("dead-letter stream %s: %w", name, err)
	}
	return nil
}

// MoverOptions configure a Mover. The defaults are those of fedsaga's
// configuration.
type MoverOptions struct {
	// AdvisoryStream holds the max-deliveries advisories. Default "ORDERS_ADVISORIES".
	AdvisoryStream string
	// DeadLetterStream receives the messages. Default "ORDERS_DLQ".
	DeadLetterStream string
	// Durable is the mover's consumer on AdvisoryStream; every worker uses
	// the same one, so each advisory is moved by one of them. Default
	// "fedsaga-dlq-mover".
	Durable string
	// ManageStreams lets NewMover create or update its durable consumer;
	// false requires it to exist (nats.jetstream.manage_streams).
	ManageStreams bool
	Logger        zerolog.Logger
}

// DefaultMoverDurable is the default of MoverOptions.Durable.
const DefaultMoverDurable = "fedsaga-dlq-mover"

// Mover moves the max-deliveries advisories that the server stored in the
// advisory stream to the dead-letter stream: it copies the message each
// names (fetched by its sequence), with its original subject, stream,
// sequence, consumer and delivery count, once. Because the server stores
// the advisories whether or not a consumer process listens, a message that
// exhausted its deliveries while no fedsaga process ran reaches the
// dead-letter stream as soon as a mover runs. The worker runs one.
type Mover struct {
	js     jetstream.JetStream
	cons   jetstream.Consumer
	opts   MoverOptions
	logger zerolog.Logger
}

// NewMover checks the advisory and dead-letter streams and opens the
// mover's durable consumer.
func NewMover(ctx context.Context, js jetstream.JetStream, opts MoverOptions) (*Mover, error) {
	if opts.AdvisoryStream == "" {
		opts.AdvisoryStream = "ORDERS_ADVISORIES"
	}
	if opts.DeadLetterStream == "" {
		opts.DeadLetterStream = "ORDERS_DLQ"
	}
	if opts.Durable == "" {
		opts.Durable = DefaultMoverDurable
	}
	if err := ensureDeadLetterStream(ctx, js, opts.DeadLetterStream, false); err != nil {
		return nil, err
	}
	cc := jetstream.ConsumerConfig{
		Durable:       opts.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1, // an advisory is never given up
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	var cons jetstream.Consumer
	var err error
	if opts.ManageStreams {
		cons, err = js.CreateOrUpdateConsumer(ctx, opts.AdvisoryStream, cc)
	} else if cons, err = js.Consumer(ctx, opts.AdvisoryStream, opts.Durable); errors.Is(err, jetstream.ErrConsumerNotFound) {
		err = fmt.Errorf("%w and nats.jetstream.manage_streams is false: create it (explicit acks, deliver all), or set manage_streams = true", err)
	}
	if err != nil {
		return nil, fmt.Errorf("dead-letter mover: consumer %s on stream %s: %w", opts.Durable, opts.AdvisoryStream, err)
	}
	logger := opts.Logger.With().Str("component", "dlq-mover").Str("stream", opts.AdvisoryStream).Logger()
	return &Mover{js: js, cons: cons, opts: opts, logger: logger}, nil
}

// Run moves advisories until ctx is done. An advisory whose move failed
// (NATS unavailable) is retried after 5 seconds; one for a message that is
// gone from its stream is logged and dropped.
func (m *Mover) Run(ctx context.Context) {
	cc, err := m.cons.Consume(func(msg jetstream.Msg) { m.handle(ctx, msg) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			m.logger.Warn().Err(err).Msg("reading advisories")
		}))
	if err != nil {
		m.logger.Error().Err(err).Msg("dead-letter mover not started")
		return
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
}

func (m *Mover) handle(ctx context.Context, msg jetstream.Msg) {
	var adv Advisory
	if err := json.Unmarshal(msg.Data(), &adv); err != nil || adv.Stream == "" || adv.StreamSeq == 0 {
		m.logger.Error().Err(err).Str("subject", msg.Subject()).Msg("not a max-deliveries advisory: dropped")
		_ = msg.Term()
		return
	}
	err := moveAdvisory(ctx, m.js, m.opts.DeadLetterStream, adv, m.logger)
	switch {
	case errors.Is(err, errGone):
		m.logger.Error().Err(err).Msg("max-deliveries advisory for a message that is gone: nothing to dead-letter")
	case err != nil:
		m.logger.Warn().Err(err).Msg("advisory not moved; retrying in 5s")
		_ = msg.NakWithDelay(5 * time.Second)
		return
	}
	_ = msg.Ack()
}

// isDeadLetterHeader tells the headers a dead letter adds apart from the
// original message's.
func isDeadLetterHeader(name string) bool {
	return strings.HasPrefix(name, "Fedsaga-Original-") || name == HeaderConsumer || name == HeaderDeliveries ||
		name == HeaderReason || name == HeaderReplayOf
}
