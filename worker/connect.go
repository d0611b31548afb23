package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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
		return nil, fmt.Errorf("temporal: cannot reach %s (namespace %s): %w; check temporal.address, or start the local stack with make run",
			cfg.Address, cfg.Namespace, err)
	}
	return c, nil
}

// CheckTemporal dials Temporal and asks its frontend whether it serves.
func CheckTemporal(ctx context.Context, cfg config.Temporal, logger zerolog.Logger) error {
	c, err := DialTemporal(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, nil); err != nil {
		return fmt.Errorf("temporal: %s does not serve: %w", cfg.Address, err)
	}
	return nil
}

// ConnectNATS connects to NATS with the configured authentication and TLS,
// and reconnects without limit, logging every disconnect and reconnect.
// Errors name the URL (redacted) and the auth type, never a secret.
func ConnectNATS(cfg config.NATS, logger zerolog.Logger) (*nats.Conn, error) {
	logger = logger.With().Str("component", "nats").Logger()
	url := config.RedactURL(cfg.URL)
	opts := []nats.Option{
		nats.Name("fedsaga"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
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
	}
	auth, err := authOptions(cfg.Auth)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	opts = append(opts, auth...)
	if t := cfg.TLS; t.CAFile != "" {
		opts = append(opts, nats.RootCAs(t.CAFile))
	}
	if t := cfg.TLS; t.CertFile != "" {
		opts = append(opts, nats.ClientCert(t.CertFile, t.KeyFile))
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, &NATSConnectError{URL: url, Auth: cfg.Auth.Type, Err: err}
	}
	return nc, nil
}

// NATSConnectError is a failed connection to NATS. It names the URL
// (password redacted) and the auth type, never the secret.
type NATSConnectError struct {
	URL  string
	Auth string
	Err  error
}

func (e *NATSConnectError) Error() string {
	hint := "check nats.url and that the server runs"
	if errors.Is(e.Err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(e.Err.Error()), "authorization") {
		hint = "the server refused the credentials: check nats.auth (type " + e.Auth + ")"
	}
	return fmt.Sprintf("nats: connection to %s with auth %s failed: %v; %s", e.URL, e.Auth, e.Err, hint)
}

func (e *NATSConnectError) Unwrap() error { return e.Err }

func authOptions(a config.NATSAuth) ([]nats.Option, error) {
	switch a.Type {
	case config.AuthToken:
		return []nats.Option{nats.Token(a.Token.Value())}, nil
	case config.AuthUserPassword:
		return []nats.Option{nats.UserInfo(a.User, a.Password.Value())}, nil
	case config.AuthNKey:
		opt, err := nats.NkeyOptionFromSeed(a.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("nats.auth.nkey_seed_file %s: %w", a.NKeySeedFile, err)
		}
		return []nats.Option{opt}, nil
	case config.AuthCredentials:
		return []nats.Option{nats.UserCredentials(a.CredentialsFile)}, nil
	}
	return nil, nil
}

// StreamNotFoundError is a configured stream that is missing, or differs
// from its configuration, while nats.jetstream.manage_streams is false.
type StreamNotFoundError struct {
	Stream string
	Diff   string // empty when the stream is missing
}

func (e *StreamNotFoundError) Error() string {
	if e.Diff == "" {
		return fmt.Sprintf("StreamNotFoundError: stream %s does not exist and nats.jetstream.manage_streams is false: create it, or set manage_streams = true", e.Stream)
	}
	return fmt.Sprintf("StreamNotFoundError: stream %s differs from nats.jetstream.streams.%s (%s) and nats.jetstream.manage_streams is false: update it, or set manage_streams = true", e.Stream, e.Stream, e.Diff)
}

// EnsureStreams checks the configured streams. With manage_streams (the
// default) it creates the missing ones and updates those that differ;
// otherwise a missing or different stream is a *StreamNotFoundError. The
// orders stream keeps at most one message per subject and refuses a second
// one (DiscardNewPerSubject): with a subject per event, no event can be
// stored twice, also after the duplicate window.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, cfg config.JetStream, logger zerolog.Logger) error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Streams)) {
		sc := StreamConfig(name, cfg.Streams[name])
		info, err := js.Stream(ctx, name)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound) && !cfg.ManageStreams:
			err = &StreamNotFoundError{Stream: name}
		case errors.Is(err, jetstream.ErrStreamNotFound):
			_, err = js.CreateStream(ctx, sc)
			if err == nil {
				logger.Info().Str("stream", name).Strs("subjects", sc.Subjects).Msg("stream created")
			}
		case err == nil:
			diff := streamDiff(info.CachedInfo().Config, sc)
			if diff == "" {
				continue
			}
			if !cfg.ManageStreams {
				err = &StreamNotFoundError{Stream: name, Diff: diff}
				break
			}
			_, err = js.UpdateStream(ctx, sc)
			if err == nil {
				logger.Info().Str("stream", name).Str("changed", diff).Msg("stream updated from configuration")
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("nats.jetstream.streams.%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// CheckNATS connects to NATS, checks that JetStream is available and
// probes the configured streams. It returns a line for a person: the URL
// (redacted) and which streams are missing. A missing stream is not a
// failure when nats.jetstream.manage_streams is on (the worker creates it
// at start-up); otherwise it is a *StreamNotFoundError, as the worker would
// report it.
func CheckNATS(ctx context.Context, cfg config.NATS, logger zerolog.Logger) (string, error) {
	url := config.RedactURL(cfg.URL)
	nc, err := ConnectNATS(cfg, logger)
	if err != nil {
		return url, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return url, fmt.Errorf("nats: jetstream: %w", err)
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return url, fmt.Errorf("nats: jetstream not available at %s: %w", url, err)
	}
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(cfg.JetStream.Streams)) {
		if _, err := js.Stream(ctx, name); errors.Is(err, jetstream.ErrStreamNotFound) {
			missing = append(missing, name)
		} else if err != nil {
			return url, fmt.Errorf("nats.jetstream.streams.%s: %w", name, err)
		}
	}
	switch {
	case len(missing) == 0:
		return url + " (jetstream, streams present)", nil
	case cfg.JetStream.ManageStreams:
		return fmt.Sprintf("%s (streams not created yet: %s; the worker creates them)", url, strings.Join(missing, ", ")), nil
	}
	errs := make([]error, len(missing))
	for i, name := range missing {
		errs[i] = &StreamNotFoundError{Stream: name}
	}
	return url, errors.Join(errs...)
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
		Retention:  retention(s.Retention),
		Discard:    jetstream.DiscardOld,
	}
	if name == config.OrdersStream {
		sc.MaxMsgsPerSubject = 1
		sc.Discard = jetstream.DiscardNew
		sc.DiscardNewPerSubject = true
	}
	return sc
}

func retention(name string) jetstream.RetentionPolicy {
	switch name {
	case "interest":
		return jetstream.InterestPolicy
	case "workqueue":
		return jetstream.WorkQueuePolicy
	}
	return jetstream.LimitsPolicy
}

// streamDiff names the fields where the server's stream differs from the
// configuration; "" when they agree.
func streamDiff(have, want jetstream.StreamConfig) string {
	var d []string
	add := func(field string, h, w any) {
		if fmt.Sprint(h) != fmt.Sprint(w) {
			d = append(d, fmt.Sprintf("%s is %v, configured %v", field, h, w))
		}
	}
	add("subjects", have.Subjects, want.Subjects)
	add("retention", have.Retention, want.Retention)
	add("replicas", have.Replicas, want.Replicas)
	add("max_msgs", have.MaxMsgs, want.MaxMsgs)
	add("max_bytes", have.MaxBytes, want.MaxBytes)
	add("duplicate_window", have.Duplicates, want.Duplicates)
	add("max_msgs_per_subject", have.MaxMsgsPerSubject, want.MaxMsgsPerSubject)
	add("discard", have.Discard, want.Discard)
	add("discard_new_per_subject", have.DiscardNewPerSubject, want.DiscardNewPerSubject)
	return strings.Join(d, "; ")
}
