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
		Short: "Serve the read API: federated orders and products over HTTP/JSON and GraphQL (federation.http_address)",
		Long: `Serve GET /v1/orders?limit=N&after=CURSOR, GET /v1/orders/{id}, GET /v1/products?ids=...
and GraphQL at /graphql (POST, or GET for queries; [federation.api.graphql]) on
federation.http_address, and /metrics on federation.api.metrics_address, until SIGINT or SIGTERM.
Requests need a bearer token of federation.api.tokens or a client certificate signed by
federation.api.tls.client_ca_file; with neither configured, serve refuses to start unless
federation.api.auth = "none".`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDatabases(func(dbs *pg.Registry) error {
				reader, err := federation.NewReader(dbs, a.cfg.Federation)
				if err != nil {
					return err
				}
				svc, err := api.Start(a.cfg.Federation, reader, server.Metrics(dbs), a.logger)
				if err != nil {
					return err
				}
				return svc.Run(cmd.Context(), 10*time.Second)
			})
		},
	}
}
