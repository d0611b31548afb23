package outbox

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/federation/pg"
)

// Observer forwards the payload of every PostgreSQL notification on a
// channel to a NATS subject: a pg_notify bridge. It survives database
// restarts (LISTEN again with backoff) and NATS restarts (the client
// buffers publishes while it reconnects). Notifications are fire-and-forget
// in PostgreSQL: those sent while the LISTEN connection is down are lost;
// events that must not be lost go through the outbox.
type Observer struct {
	DB      *pg.DB
	Channel string
	Subject string
}

// Run forwards until ctx is done.
func (o Observer) Run(ctx context.Context, nc *nats.Conn, logger zerolog.Logger) {
	logger = logger.With().Str("component", "observer").Str("subject", o.Subject).Logger()
	listen(ctx, o.DB, o.Channel, logger, func(payload string) {
		if err := nc.Publish(o.Subject, []byte(payload)); err != nil {
			logger.Error().Err(err).Str("channel", o.Channel).Msg("notification not forwarded")
		}
	})
}
