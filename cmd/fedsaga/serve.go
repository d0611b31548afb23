package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/api"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the read API: federated orders and products over HTTP/JSON (federation.http_address)",
		Long: `Serve GET /v1/orders?limit=N&after=CURSOR, GET /v1/orders/{id}, GET /v1/products?ids=...
and /metrics on federation.http_address until SIGINT or SIGTERM.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dbs, err := a.databases()
			if err != nil {
				return err
			}
			defer dbs.Close()
			reader, err := federation.NewReader(dbs, a.cfg.Federation)
			if err != nil {
				return err
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(dbs.Collector(),
				collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			readAPI := &api.Server{Reader: reader, DefaultPageSize: a.cfg.Federation.DefaultPageSize,
				MaxPageSize: a.cfg.Federation.MaxPageSize, Metrics: reg, Logger: a.logger}
			ln, err := net.Listen("tcp", a.cfg.Federation.HTTPAddress)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: readAPI.Handler(), ReadHeaderTimeout: 5 * time.Second}
			a.logger.Info().Str("address", ln.Addr().String()).Msg("read API listening")
			go func() {
				<-cmd.Context().Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
			}()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
}
