package worker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedsaga/fedsaga/codec"
	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/logging"
	"github.com/fedsaga/fedsaga/tracing"
)

// ClientOptions are the Temporal client options of the configuration: the
// one place that says how fedsaga dials Temporal (worker, CLI, tests). It
// reads the TLS files, so an unreadable, invalid or expired one fails here
// with a *TemporalError naming its key; and the keyring of [codec], so
// every client encrypts payloads when codec.enabled and decrypts them
// whenever codec.keys holds keys (a *codec.KeyError names a bad key).
func ClientOptions(cfg *config.Config, logger zerolog.Logger) (client.Options, error) {
	t := cfg.Temporal
	opts := client.Options{
		HostPort:  t.Address,
		Namespace: t.Namespace,
		Logger:    logging.Temporal(logger.With().Str("component", "temporal").Logger()),
	}
	if t.GRPCCompression == config.CompressionNone {
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if cfg.Telemetry.Enabled {
		// The client's spans and, through the worker made from it, every
		// workflow's and activity's (see package tracing).
		opts.Interceptors = append(opts.Interceptors, tracing.Interceptor())
	}
	c, err := codec.Load(cfg.Codec)
	if err != nil {
		return client.Options{}, err
	}
	if c != nil {
		opts.DataConverter = codec.DataConverter(c)
		opts.FailureConverter = codec.FailureConverter(opts.DataConverter)
	}
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey.Value())
	}
	if !t.UseTLS() {
		opts.ConnectionOptions.TLSDisabled = t.TLS.Disabled
		return opts, nil
	}
	tc, kerr := tlsConfig(t.TLS)
	if kerr != nil {
		return client.Options{}, &TemporalError{Address: t.Address, Namespace: t.Namespace, Key: kerr.key, Err: kerr.err}
	}
	opts.ConnectionOptions.TLS = tc
	return opts, nil
}

// keyError is a problem with the file of one configuration key.
type keyError struct {
	key string
	err error
}

// tlsConfig reads the CA and the client certificate of the configuration.
func tlsConfig(cfg config.TemporalTLS) (*tls.Config, *keyError) {
	tc := &tls.Config{ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, &keyError{"temporal.tls.ca_file", err}
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, &keyError{"temporal.tls.ca_file", fmt.Errorf("%s holds no PEM certificate", cfg.CAFile)}
		}
	}
	if cfg.CertFile == "" {
		return tc, nil
	}
	certPEM, err := os.ReadFile(cfg.CertFile)
	if err != nil {
		return nil, &keyError{"temporal.tls.cert_file", err}
	}
	keyPEM, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, &keyError{"temporal.tls.key_file", err}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	switch {
	case err != nil && (strings.Contains(err.Error(), "certificate input") || strings.HasPrefix(err.Error(), "x509:")):
		return nil, &keyError{"temporal.tls.cert_file", fmt.Errorf("%s: %w", cfg.CertFile, err)}
	case err != nil:
		return nil, &keyError{"temporal.tls.key_file", fmt.Errorf("%s (for %s): %w", cfg.KeyFile, cfg.CertFile, err)}
	case time.Now().After(cert.Leaf.NotAfter):
		return nil, &keyError{"temporal.tls.cert_file", fmt.Errorf("the client certificate in %s expired on %s",
			cfg.CertFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))}
	case time.Now().Before(cert.Leaf.NotBefore):
		return nil, &keyError{"temporal.tls.cert_file", fmt.Errorf("the client certificate in %s is not valid before %s",
			cfg.CertFile, cert.Leaf.NotBefore.UTC().Format(time.RFC3339))}
	}
	tc.Certificates = []tls.Certificate{cert}
	return tc, nil
}

// TemporalError is a failed connection to Temporal. Key names the
// configuration key to fix; the message never holds the API key.
type TemporalError struct {
	Address   string
	Namespace string
	Key       string // such as temporal.tls.ca_file
	Err       error
}

func (e *TemporalError) Error() string {
	return fmt.Sprintf("temporal: cannot connect to %s (namespace %s): %v; %s", e.Address, e.Namespace, e.Err, e.hint())
}

// hint says what to do about the key.
func (e *TemporalError) hint() string {
	switch e.Key {
	case "temporal.tls.ca_file":
		return "check temporal.tls.ca_file: it must hold the CA that signed the server's certificate"
	case "temporal.tls.cert_file", "temporal.tls.key_file":
		return "check temporal.tls.cert_file and temporal.tls.key_file: a client certificate and its key, signed by a CA the server trusts, not expired"
	case "temporal.tls.server_name":
		return "check temporal.tls.server_name: it must be a name the server's certificate holds"
	case "temporal.tls":
		return "check temporal.tls: the server and fedsaga disagree on TLS (temporal.tls.enabled, temporal.tls.disabled)"
	case "temporal.api_key":
		return "check temporal.api_key (and the client certificate, if the server wants one)"
	case "temporal.namespace":
		return "check temporal.namespace"
	}
	return "check temporal.address, or start the local stack with make run"
}

func (e *TemporalError) Unwrap() error { return e.Err }

// dialKey returns the configuration key that a failed dial points at.
func dialKey(cfg config.Temporal, err error) string {
	msg := err.Error()
	has := func(parts ...string) bool {
		return slices.ContainsFunc(parts, func(p string) bool { return strings.Contains(msg, p) })
	}
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var denied *serviceerror.PermissionDenied
	var notFound *serviceerror.NamespaceNotFound
	switch {
	case errors.As(err, &unknownCA) || has("certificate signed by unknown authority", "certificate is not trusted"):
		return "temporal.tls.ca_file"
	case errors.As(err, &hostname) || has("x509: certificate is valid for", "x509: certificate is not valid for"):
		return "temporal.tls.server_name"
	case has("tls: certificate required", "tls: bad certificate", "tls: expired certificate",
		"tls: unknown certificate authority", "tls: revoked certificate", "tls: unsupported certificate", "tls: unknown certificate"):
		return "temporal.tls.cert_file"
	case has("first record does not look like a TLS handshake", "tls: server selected unsupported protocol"),
		cfg.UseTLS() && has("authentication handshake failed"):
		return "temporal.tls"
	case cfg.UseTLS() && has("broken pipe", "connection reset by peer", "EOF"):
		// The handshake passed, then the server hung up: under TLS 1.3 that
		// is how a server that refuses the client certificate (or its
		// absence) looks from the client.
		return "temporal.tls.cert_file"
	case status.Code(err) == codes.Unauthenticated || errors.As(err, &denied):
		return "temporal.api_key"
	case errors.As(err, &notFound):
		return "temporal.namespace"
	}
	return "temporal.address"
}

// DialOption changes the client options DialTemporal dials with, such as
// WithMetrics.
type DialOption func(*client.Options)

// DialTemporal connects to the Temporal frontend of the configuration, with
// the SDK logging through logger. An error is a *TemporalError naming the
// key to fix.
func DialTemporal(ctx context.Context, cfg *config.Config, logger zerolog.Logger, more ...DialOption) (client.Client, error) {
	opts, err := ClientOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	for _, o := range more {
		o(&opts)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		t := cfg.Temporal
		key := dialKey(t, err)
		if key == "temporal.tls.cert_file" {
			err = fmt.Errorf("the server refused the client certificate or its absence: %w", err)
		}
		return nil, &TemporalError{Address: t.Address, Namespace: t.Namespace, Key: key, Err: err}
	}
	return c, nil
}

// CheckTemporal dials Temporal and asks its frontend whether it serves.
func CheckTemporal(ctx context.Context, cfg *config.Config, logger zerolog.Logger) error {
	c, err := DialTemporal(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.CheckHealth(ctx, nil); err != nil {
		t := cfg.Temporal
		return &TemporalError{Address: t.Address, Namespace: t.Namespace, Key: dialKey(t, err),
			Err: fmt.Errorf("does not serve: %w", err)}
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

// StreamConfig is the JetStream configuration of a configured stream.
func StreamConfig(name string, s config.Stream) jetstream.StreamConfig {
	sc := jetstream.StreamConfig{
		Name:       name,
		Subjects:   s.Subjects,
		Replicas:   s.Replicas,
		MaxMsgs:    s.MaxMsgs,
		MaxBytes:   s.MaxBytes,
		Duplicates: s.DuplicateWindow,
		// The server reports an unlimited per-subject limit as -1 (0 on create).
		MaxMsgsPerSubject: -1,
		Storage:           jetstream.FileStorage,
		Retention:         retention(s.Retention),
		Discard:           jetstream.DiscardOld,
	}
	if name == config.OrdersStream || name == config.PartitionsStream {
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
