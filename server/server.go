// Package server runs fedsaga's HTTP listeners (the worker's probes and
// metrics, the read API) with one lifecycle: listen, serve in the
// background, shut down gracefully within a timeout. It also builds the
// Prometheus registry every listener exposes on /metrics.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/fedsaga/fedsaga/federation/pg"
)

// The limits of every listener, unless its Options say otherwise.
const (
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers.
	ReadHeaderTimeout = 5 * time.Second
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout = 10 * time.Second
	// WriteTimeout bounds the time from the end of the request headers to
	// the end of the answer.
	WriteTimeout = 30 * time.Second
	// IdleTimeout closes a keep-alive connection idle for longer.
	IdleTimeout = 60 * time.Second
	// MaxHeaderBytes bounds the request line and headers (net/http's
	// default is 1 MiB).
	MaxHeaderBytes = 16 << 10
)

// Options are the limits and TLS of one listener; a zero field takes the
// constant of the same name.
type Options struct {
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	MaxHeaderBytes int
	TLS            *tls.Config // nil: plain HTTP
}

// Server is an HTTP server listening on its address.
type Server struct {
	name   string
	srv    *http.Server
	ln     net.Listener
	served chan error // Serve's error once it returns; nil after a shutdown
}

// Start listens on addr and serves h in the background with the default
// Options. name says what is served and the key of its address, for the
// log line and errors (e.g. "read API (federation.http_address)"). A
// failure to listen is an error naming addr; an error of Serve itself is
// logged and returned by Run and Shutdown.
func Start(name, addr string, h http.Handler, logger zerolog.Logger) (*Server, error) {
	return Options{}.Start(name, addr, h, logger)
}

// Start is Start with the limits and TLS of o.
func (o Options) Start(name, addr string, h http.Handler, logger zerolog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	read := cmp.Or(o.ReadTimeout, ReadTimeout)
	s := &Server{
		name: name,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: min(ReadHeaderTimeout, read), ReadTimeout: read,
			WriteTimeout: cmp.Or(o.WriteTimeout, WriteTimeout), IdleTimeout: cmp.Or(o.IdleTimeout, IdleTimeout),
			MaxHeaderBytes: cmp.Or(o.MaxHeaderBytes, MaxHeaderBytes), TLSConfig: o.TLS,
			ErrorLog: slog.NewLogLogger(zerolog.NewSlogHandler(logger.With().Str("listener", name).Logger()), slog.LevelDebug)},
		ln:     ln,
		served: make(chan error, 1),
	}
	scheme := "http"
	if o.TLS != nil {
		scheme = "https"
		ln = tls.NewListener(ln, o.TLS)
	}
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		} else {
			err = fmt.Errorf("%s on %s: %w", name, s.Addr(), err)
			logger.Error().Err(err).Msg("http server stopped")
		}
		s.served <- err
	}()
	logger.Info().Str("address", s.Addr()).Str("scheme", scheme).Msg(name + " listening")
	return s, nil
}

// Addr is the address the server listens on, with the port chosen when
// addr asked for port 0.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run waits until ctx is done, then shuts down within timeout. It returns
// early with the error when the server stops by itself.
func (s *Server) Run(ctx context.Context, timeout time.Duration) error {
	select {
	case err := <-s.served:
		s.served <- err
		return err
	case <-ctx.Done():
		return s.Shutdown(timeout)
	}
}

// Shutdown stops accepting connections and waits up to timeout for
// requests in flight, then closes the rest.
func (s *Server) Shutdown(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close()
		return fmt.Errorf("%s: shutdown within %s: %w", s.name, timeout, err)
	}
	err := <-s.served
	s.served <- err
	return err
}

// Metrics returns the registry a fedsaga process exposes on /metrics: the
// Go runtime and process collectors, the database pools of dbs and the
// query latency histogram, and the collectors in more.
//
// Metrics use github.com/prometheus/client_golang, the reference Prometheus
// client: the exposition format, Go and process collectors and custom
// collectors come with it.
func Metrics(dbs *pg.Registry, more ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		dbs.Collector())
	reg.MustRegister(more...)
	return reg
}
