package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.temporal.io/sdk/client"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/logging"
)

// DialTemporal connects to the Temporal frontend of the configuration, with
// the SDK logging through logger.
func DialTemporal(ctx context.Context, cfg config.Temporal, logger zerolog.Logger) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.Address,
		Namespace: cfg.Namespace,
		Logger:    logging.Temporal(logger.With().Str("component", "temporal").Logger()),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal: cannot reach %s (namespace %s): %w; check temporal.address or start the server (make temporal)",
			cfg.Address, cfg.Namespace, err)
	}
	return c, nil
}

// ConnectNATS connects to NATS and reconnects without limit, logging every
// disconnect and reconnect. Errors name the URL (redacted) and never a secret.
func ConnectNATS(cfg config.NATS, logger zerolog.Logger) (*nats.Conn, error) {
	logger = logger.With().Str("component", "nats").Logger()
	url := config.RedactURL(cfg.URL)
	nc, err := nats.Connect(cfg.URL,
		nats.Name("fedsaga"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				return // closed on purpose
			}
			logger.Warn().Err(err).Str("url", url).Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info().Str("url", config.RedactURL(nc.ConnectedUrl())).Msg("nats reconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			logger.Error().Err(err).Msg("nats error")
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: connection to %s (auth: %s) failed: %w; check nats.url", url, authType(cfg.URL), err)
	}
	return nc, nil
}

func authType(url string) string {
	if config.RedactURL(url) != url {
		return "user/password"
	}
	return "none"
}

// EnsureStreams creates the configured streams that are missing and updates
// those that differ. The orders stream keeps at most one message per
// subject and refuses a second one (DiscardNewPerSubject): with a subject per
// event, no event can be stored twice, also after the duplicate window.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, streams map[string]config.Stream, logger zerolog.Logger) error {
	var errs []error
	for name, s := range streams {
		sc := StreamConfig(name, s)
		info, err := js.Stream(ctx, name)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
			_, err = js.CreateStream(ctx, sc)
			if err == nil {
				logger.Info().Str("stream", name).Strs("subjects", sc.Subjects).Msg("stream created")
			}
		case err == nil:
			cur := info.CachedInfo().Config
			if sameStream(cur, sc) {
				continue
			}
			_, err = js.UpdateStream(ctx, sc)
			if err == nil {
				logger.Info().Str("stream", name).Msg("stream updated from configuration")
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("nats.jetstream.streams.%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// StreamConfig is the JetStream configuration of a configured stream.
func StreamConfig(name string, s config.Stream) jetstream.StreamConfig {
	sc := jetstream.StreamConfig{
		Name:       name,
		Subjects:   s.Subjects,
		Replicas:   s.Replicas,
		MaxMsgs:    s.MaxMsgs,
		MaxBytes:   s.MaxBytes,
		Duplicates: s.DuplicateWindow,
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
	}
	if name == config.OrdersStream {
		sc.MaxMsgsPerSubject = 1
		sc.Discard = jetstream.DiscardNew
		sc.DiscardNewPerSubject = true
	}
	return sc
}

func sameStream(a, b jetstream.StreamConfig) bool {
	return fmt.Sprint(a.Subjects) == fmt.Sprint(b.Subjects) &&
		a.Replicas == b.Replicas && a.MaxMsgs == b.MaxMsgs && a.MaxBytes == b.MaxBytes &&
		a.Duplicates == b.Duplicates && a.MaxMsgsPerSubject == b.MaxMsgsPerSubject &&
		a.Discard == b.Discard && a.DiscardNewPerSubject == b.DiscardNewPerSubject
}
