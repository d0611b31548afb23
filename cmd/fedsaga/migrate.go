package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/migrations"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the schema migrations to the orders, inventory and payments databases",
		Long: `Apply every pending migration. Idempotent, and safe to run from several
processes at once: each database's migration holds a PostgreSQL advisory lock.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dbs, err := a.databases()
			if err != nil {
				return err
			}
			defer dbs.Close()
			for _, name := range migrations.Databases {
				db, err := dbs.DB(name)
				if err != nil {
					return err
				}
				if err := db.Ping(cmd.Context()); err != nil {
					return err
				}
				res, err := migrations.Up(cmd.Context(), name, db.Pool())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-9s schema version %d (%d applied now)\n", name, res.Version, len(res.Applied))
			}
			return nil
		},
	}
}
