package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/migrations"
)

// migrated is what migrate did to one database.
type migrated struct {
	Database string  `json:"database"`
	Version  int64   `json:"version"`
	Applied  []int64 `json:"applied"`
}

func (m migrated) String() string {
	return fmt.Sprintf("%-9s schema version %d (%d applied now)", m.Database, m.Version, len(m.Applied))
}

func (a *app) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the schema migrations to the orders, inventory and payments databases",
		Long: `Apply every pending migration. Idempotent, and safe to run from several
processes at once: each database's migration holds a PostgreSQL advisory lock.`,
		Args: noArgs,
	}
	out := outputFlag(cmd, "text")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return a.withDatabases(func(dbs *pg.Registry) error {
			var done []migrated
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
				done = append(done, migrated{Database: name, Version: res.Version, Applied: res.Applied})
			}
			return out.print(cmd.OutOrStdout(), done, lines(done))
		})
	}
	return cmd
}
