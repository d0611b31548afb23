// Package outbox moves events from the orders database's outbox to NATS
// JetStream: a relay publishes the rows the saga could not (NATS down for
// longer than the publish step's retries, a worker that died), and
// observers forward PostgreSQL notifications to NATS subjects.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/fedsaga/fedsaga/events"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/tracing"
)

// Channel is the notification channel an insert into tb_outbox notifies.
const Channel = "fedsaga_outbox"

// RelayOptions tune a relay.
type RelayOptions struct {
	// Delay leaves rows younger than this to the saga's own publish step.
	Delay time.Duration
	// Poll is how often the relay looks for rows without a notification.
	Poll time.Duration
	// Batch is the most rows claimed at once.
	Batch int
	// Partitions ([nats.partitions] count) also publishes each row's
	// partition copy (PublishPartition); a row is published once both
	// copies are stored. 0: off.
	Partitions int
}

// Relay publishes unpublished outbox rows. Any number of relays may run at
// once: each claims rows with FOR UPDATE SKIP LOCKED, and takes only the
// oldest unpublished event of each order, so one order's events reach the
// stream in the order they were written. Every publish carries the event id
// as Nats-Msg-Id, so a row published twice (a relay that died after the
// acknowledgement) is stored once.
type Relay struct {
	db     *pg.DB
	js     jetstream.JetStream
	opts   RelayOptions
	logger zerolog.Logger

	backlog   *backlog
	published prometheus.Counter
	failures  prometheus.Counter
}

// NewRelay returns a relay for the orders database; reg, when not nil,
// gets its metrics: fedsaga_outbox_backlog,
// fedsaga_outbox_oldest_unpublished_age_seconds (both measured every Poll),
// fedsaga_outbox_published_total, fedsaga_outbox_publish_failures_total.
func NewRelay(db *pg.DB, js jetstream.JetStream, opts RelayOptions, reg prometheus.Registerer, logger zerolog.Logger) *Relay {
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	r := &Relay{
		db: db, js: js, opts: opts,
		logger:    logger.With().Str("component", "outbox-relay").Logger(),
		backlog:   newBacklog(),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "fedsaga_outbox_published_total", Help: "Outbox events the relay published."}),
		failures:  prometheus.NewCounter(prometheus.CounterOpts{Name: "fedsaga_outbox_publish_failures_total", Help: "Relay rounds that failed to publish."}),
	}
	if reg != nil {
		reg.MustRegister(append(r.backlog.collectors(), r.published, r.failures)...)
	}
	return r
}

// Run relays until ctx is done. It wakes on every outbox notification (once
// the row is older than Delay), on every Poll, and right away while a full
// batch was relayed; while NATS is down it backs off up to 30 seconds. Run
// returns once the listener it starts has stopped; it leaves no timer
// behind.
func (r *Relay) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	notified := make(chan struct{}, 1)
	wg.Go(func() {
		listen(ctx, r.db, Channel, r.logger, func(string) {
			select {
			case notified <- struct{}{}:
			default:
			}
		})
	})

	// next runs the next round: right away at first, then after Poll, a
	// backoff, or nothing when the last round relayed a full batch.
	next := time.NewTimer(0)
	defer next.Stop()
	// delay runs a round Delay after a notification. Notifications are
	// coalesced: one round per Delay at most, however many sagas write
	// events meanwhile (most of which their own publish step has published
	// by then).
	delay := time.NewTimer(r.opts.Delay)
	delay.Stop()
	defer delay.Stop()
	var delayed <-chan time.Time // delay.C while a delay runs

	lastBacklog := time.Time{}
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-notified:
			if delayed == nil {
				delay.Reset(r.opts.Delay)
				delayed = delay.C
			}
			continue
		case <-delayed:
			delayed = nil
		case <-next.C:
		}
		n, err := r.RelayOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(lastBacklog) >= r.opts.Poll {
			r.backlog.measure(ctx, r.db)
			lastBacklog = time.Now()
		}
		wait := r.opts.Poll
		switch {
		case err != nil:
			r.failures.Inc()
			backoff = min(max(2*backoff, 100*time.Millisecond), 30*time.Second)
			wait = backoff
			r.logger.Warn().Err(err).Dur("retry_in", backoff).Msg("relay round failed")
		case n == r.opts.Batch:
			backoff, wait = 0, 0
		default:
			backoff = 0
		}
		next.Reset(wait)
	}
}

type pending struct {
	id, subject string
	payload     []byte
	trace       tracing.Context // of the transaction that wrote the event
}

// RelayOnce claims up to Batch publishable rows, publishes them, waits for
// every acknowledgement and marks the acknowledged rows published, in one
// transaction. It returns how many rows it published.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	published := 0
	var perr error
	err := r.db.Tx(ctx, func(tx pgx.Tx) error {
		// QueryExecModeExec: an unnamed statement, planned for these
		// arguments every time; a cached generic plan of this anti-join is
		// orders of magnitude slower.
		rows, err := tx.Query(ctx, `
			SELECT o.id, o.subject, o.payload::text, coalesce(o.traceparent, ''), coalesce(o.tracestate, '') FROM tb_outbox o
			WHERE o.published_at IS NULL AND o.created_at <= now() - $1::interval
			  AND NOT EXISTS (SELECT 1 FROM tb_outbox p
			                  WHERE p.order_id = o.order_id AND p.published_at IS NULL AND p.seq < o.seq)
			ORDER BY o.seq
			LIMIT $2
			FOR UPDATE SKIP LOCKED`, pgx.QueryExecModeExec, r.opts.Delay, r.opts.Batch)
		if err != nil {
			return fmt.Errorf("claim outbox rows: %w", err)
		}
		claimed, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pending, error) {
			var x pending
			var payload string
			err := row.Scan(&x.id, &x.subject, &payload, &x.trace.Parent, &x.trace.State)
			x.payload = []byte(payload)
			return x, err
		})
		if err != nil {
			return fmt.Errorf("claim outbox rows: %w", err)
		}
		var done []string
		done, perr = r.publish(ctx, claimed)
		if len(done) > 0 {
			if _, err := MarkPublished(ctx, tx, done...); err != nil {
				return err
			}
		}
		published = len(done)
		return nil // the acknowledged rows are marked even when others failed
	})
	err = errors.Join(err, perr)
	if published > 0 {
		r.published.Add(float64(published))
	}
	return published, err
}

// publish sends the rows asynchronously and waits for their
// acknowledgements; it returns the ids JetStream stored (or already held).
func (r *Relay) publish(ctx context.Context, rows []pending) ([]string, error) {
	futures := make([]jetstream.PubAckFuture, len(rows))
	spans := make([]trace.Span, len(rows))
	defer func() { // those not ended below: not sent, or the round ended first
		for _, span := range spans {
			if span != nil {
				endPublish(span, errNotAcknowledged)
			}
		}
	}()
	var errs []error
	for i, x := range rows {
		// Each event continues the trace of the saga that wrote it.
		pctx, span := startPublish(tracing.Continue(ctx, x.trace), x.id, x.subject, byRelay)
		spans[i] = span
		f, err := r.js.PublishMsgAsync(eventMsg(pctx, x.subject, x.payload), jetstream.WithMsgID(x.id))
		if err != nil {
			errs = append(errs, fmt.Errorf("publish %s: %w", x.id, err))
			break
		}
		futures[i] = f
	}
	copies, perrs := r.partitionFutures(ctx, rows)
	errs = append(errs, perrs...)
	var done []string
	for i, f := range futures {
		if f == nil {
			continue
		}
		err := awaitStored(ctx, f)
		if err == nil && r.opts.Partitions > 0 { // stored once both copies are
			err = errors.New("partition copy not sent")
			if copies[i] != nil {
				err = awaitStored(ctx, copies[i])
			}
		}
		switch {
		case ctx.Err() != nil:
			return done, ctx.Err()
		case err != nil:
			errs = append(errs, fmt.Errorf("publish %s: %w", rows[i].id, err))
		default:
			done = append(done, rows[i].id)
		}
		endPublish(spans[i], err)
		spans[i] = nil
	}
	return done, errors.Join(errs...)
}

// eventMsg is the message of an outbox event, with the trace context of
// the span in ctx (traceparent, tracestate) when there is one; the
// publisher adds its Nats-Msg-Id.
func eventMsg(ctx context.Context, subject string, payload []byte) *nats.Msg {
	msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	tracing.Inject(ctx, tracing.Headers(msg.Header))
	return msg
}

// errNotAcknowledged ends the span of an event the round did not see
// acknowledged.
var errNotAcknowledged = errors.New("not acknowledged in this relay round")

// AlreadyStored reports a publish refused because the stream already holds
// a message on that subject (MaxMsgsPerSubject = 1, DiscardNewPerSubject):
// for an event subject, the event is published.
func AlreadyStored(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Description, "maximum messages per subject exceeded")
}

// Publish sends one event to JetStream with Nats-Msg-Id = id and waits for
// the acknowledgement. A stream that already holds the event's subject
// refuses the copy: that counts as published (Duplicate).
//
// The publish is a span, child of the span or the remote trace context in
// ctx (tracing.Continue), and the message carries its traceparent.
func Publish(ctx context.Context, js jetstream.JetStream, id, subject string, payload []byte) (_ events.PublishResult, err error) {
	ctx, span := startPublish(ctx, id, subject, bySaga)
	defer func() { endPublish(span, err) }()
	ack, err := js.PublishMsg(ctx, eventMsg(ctx, subject, payload), jetstream.WithMsgID(id))
	if err != nil {
		if AlreadyStored(err) {
			return events.PublishResult{EventID: id, Duplicate: true}, nil
		}
		return events.PublishResult{}, fmt.Errorf("publish event %s on %s: %w", id, subject, err)
	}
	return events.PublishResult{EventID: id, Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}
