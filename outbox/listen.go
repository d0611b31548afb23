package outbox

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/federation/pg"
)

// listen runs LISTEN channel on a connection of its own and calls fn with
// each notification's payload until ctx is done. A lost connection (the
// database restarted) is opened again with backoff; notifications sent
// while it was down are lost, which is why every user of listen also polls.
func listen(ctx context.Context, db *pg.DB, channel string, logger zerolog.Logger, fn func(payload string)) {
	logger = logger.With().Str("database", db.Name).Str("channel", channel).Logger()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenOnce(ctx, db, channel, func(payload string) {
			backoff = 100 * time.Millisecond
			fn(payload)
		}, func() {
			logger.Info().Msg("listening")
		})
		if ctx.Err() != nil {
			return
		}
		logger.Warn().Err(err).Dur("retry_in", backoff).Msg("listen connection lost")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func listenOnce(ctx context.Context, db *pg.DB, channel string, fn func(string), ready func()) error {
	conn, err := pgx.ConnectConfig(ctx, db.Pool().Config().ConnConfig)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	ready()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}
