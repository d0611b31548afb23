package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/federation"
	"github.com/fedsaga/fedsaga/federation/api"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/server"
)

func (a *app) serveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Serve the read API: federated orders and products over HTTP/JSON (federation.http_address)",
		Long: `Serve GET /v1/orders?limit=N&after=CURSOR, GET /v1/orders/{id}, GET /v1/products?ids=...
and /metrics on federation.http_address until SIGINT or SIGTERM.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDatabases(func(dbs *pg.Registry) error {
				reader, err := federation.NewReader(dbs, a.cfg.Federation)
				if err != nil {
					return err
				}
				readAPI := &api.Server{Reader: reader, DefaultPageSize: a.cfg.Federation.DefaultPageSize,
					MaxPageSize: a.cfg.Federation.MaxPageSize, Metrics: server.Metrics(dbs), Logger: a.logger}
				srv, err := server.Start("read API (federation.http_address)", a.cfg.Federation.HTTPAddress, readAPI.Handler(), a.logger)
				if err != nil {
					return err
				}
				return srv.Run(cmd.Context(), 10*time.Second)
			})
		},
	}
}
