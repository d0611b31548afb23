package main

import (
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/seed"
)

func (a *app) seedCmd() *cobra.Command {
	var reset bool
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Load the demo products (inventory) and customer accounts (payments)",
		Long: `Load the demo products and accounts. Rows already there are kept as they are;
with --reset their stock and balances go back to the demo values.`,
		Args: noArgs,
	}
	out := outputFlag(cmd, "text")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return a.withDatabases(func(dbs *pg.Registry) error {
			rows, err := seed.Load(cmd.Context(), dbs, reset)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), rows, lines(rows))
		})
	}
	cmd.Flags().BoolVar(&reset, "reset", false, "restore demo stock and balances of existing rows")
	return cmd
}
