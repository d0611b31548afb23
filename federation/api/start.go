package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/server"
)

// Service is the read API as `fedsaga serve` runs it: the API on
// federation.http_address and /metrics on federation.api.metrics_address.
type Service struct {
	API     *server.Server
	Metrics *server.Server // nil when metrics_address is ""
}

// Start serves reader as cfg says: authentication, TLS, limits and
// timeouts of [federation.api], and metrics on a listener of its own,
// without authentication. It refuses to serve without authentication
// unless federation.api.auth is "none" (ErrNoAuth).
func Start(cfg config.Federation, reader *federation.Reader, metrics *prometheus.Registry, logger zerolog.Logger) (*Service, error) {
	c := cfg.API
	tlsConfig, err := TLSConfig(c.TLS)
	if err != nil {
		return nil, err
	}
	a := &Server{Reader: reader, DefaultPageSize: cfg.DefaultPageSize, MaxPageSize: cfg.MaxPageSize,
		MaxIDs: c.MaxIDs, MaxIDLength: c.MaxIDLength, Tokens: c.Tokens, ClientCerts: c.TLS.ClientCAFile != "",
		GraphQL: c.GraphQL, Logger: logger}
	switch {
	case c.Auth == config.APIAuthNone:
		logger.Warn().Str("address", cfg.HTTPAddress).Msg(`read API without authentication (federation.api.auth = "none")`)
	case len(a.Tokens) == 0 && !a.ClientCerts:
		return nil, &config.Error{Key: "federation.api.auth", Err: ErrNoAuth}
	}
	opts := server.Options{ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, TLS: tlsConfig}
	s := &Service{}
	if s.API, err = opts.Start("read API (federation.http_address)", cfg.HTTPAddress, a.Handler(), logger); err != nil {
		return nil, err
	}
	if c.MetricsAddress != "" {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{Registry: metrics}))
		if s.Metrics, err = server.Start("read API metrics (federation.api.metrics_address)", c.MetricsAddress, mux, logger); err != nil {
			_ = s.API.Shutdown(time.Second)
			return nil, err
		}
	}
	return s, nil
}

// Run serves until ctx is done, then shuts both listeners down within
// timeout; it returns early when one stops by itself.
func (s *Service) Run(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	for _, srv := range s.servers() {
		go func() {
			err := srv.Run(ctx, timeout)
			cancel() // one stopped: stop the other
			errs <- err
		}()
	}
	var all []error
	for range s.servers() {
		all = append(all, <-errs)
	}
	return errors.Join(all...)
}

// Shutdown stops both listeners, waiting up to timeout for requests in
// flight.
func (s *Service) Shutdown(timeout time.Duration) error {
	var all []error
	for _, srv := range s.servers() {
		all = append(all, srv.Shutdown(timeout))
	}
	return errors.Join(all...)
}

func (s *Service) servers() []*server.Server {
	if s.Metrics == nil {
		return []*server.Server{s.API}
	}
	return []*server.Server{s.API, s.Metrics}
}
