package worker

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/consumer"
)

// newMover returns the dead-letter mover of the worker: the worker is the
// one fedsaga process a deployment always runs, and it already owns the
// streams, so the max-deliveries advisories that the server stored while
// no process ran are moved to the dead-letter stream as soon as a worker
// starts. Every worker runs one on the same durable consumer: each
// advisory is moved once. nil when the advisory stream is not configured.
func newMover(ctx context.Context, cfg config.JetStream, js jetstream.JetStream, logger zerolog.Logger) (*consumer.Mover, error) {
	if _, ok := cfg.Streams[config.AdvisoryStream]; !ok {
		return nil, nil
	}
	return consumer.NewMover(ctx, js, consumer.MoverOptions{
		AdvisoryStream: config.AdvisoryStream, DeadLetterStream: config.DeadLetterStream,
		ManageStreams: cfg.ManageStreams, Logger: logger,
	})
}
