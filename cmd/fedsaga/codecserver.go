package main

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/codec"
	"github.com/fedsaga/fedsaga/server"
	"github.com/fedsaga/fedsaga/starter"
)

func (a *app) codecServerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "codec-server",
		Short: "Serve Temporal's codec server protocol, so the Web UI and CLI show decrypted payloads (codec.http_address)",
		Long: `Serve POST /encode and POST /decode (Temporal's codec server protocol) with the keyring of
[codec] on codec.http_address until SIGINT or SIGTERM.

Point the Web UI at it: temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8234,
or TEMPORAL_CODEC_ENDPOINT for the temporalio/ui image; its origin must be in codec.cors_origins.
The Temporal CLI: temporal workflow show --codec-endpoint URL --codec-auth "Bearer TOKEN".
With codec.auth_token set, every request needs "Authorization: Bearer <token>"; a request whose
X-Namespace header names another namespace than temporal.namespace is refused.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			c, err := codec.Load(a.cfg.Codec)
			if err != nil {
				return err
			}
			if c == nil {
				return errors.New("codec.keys is empty: the codec server has no key to decrypt with; add [codec.keys.ID] with a file or env")
			}
			h := codec.Handler(c, codec.HandlerOptions{Namespace: a.cfg.Temporal.Namespace, Origins: a.cfg.Codec.CORSOrigins,
				Token: a.cfg.Codec.AuthToken.Value(), Logger: a.logger})
			srv, err := server.Start("codec server (codec.http_address)", a.cfg.Codec.HTTPAddress, h, a.logger)
			if err != nil {
				return err
			}
			a.logger.Info().Strs("keys", c.KeyIDs()).Str("active_key", c.Active()).Strs("cors_origins", a.cfg.Codec.CORSOrigins).
				Bool("token", a.cfg.Codec.AuthToken != "").Msg("codec server ready")
			return srv.Run(cmd.Context(), 10*time.Second)
		},
	}
}

// customerAttribute is what the CustomerId search attribute holds, from
// codec.customer_id_attribute and codec.customer_id_key.
func (a *app) customerAttribute() (starter.CustomerAttribute, error) {
	attr := starter.CustomerAttribute{Mode: a.cfg.Codec.CustomerIDAttribute}
	if attr.Mode != starter.CustomerHash {
		return attr, nil
	}
	var err error
	attr.Key, err = codec.ReadKey("codec.customer_id_key", a.cfg.Codec.CustomerIDKey)
	return attr, err
}
