package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/worker"
)

func (a *app) healthCmd() *cobra.Command {
	var (
		database string
		natsOnly bool
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check the databases, Temporal and NATS; exit 1 naming what is down",
		Long: `Check every configured database, Temporal and NATS, with each configured stream
and consumer: present (and as configured), missing, or different (naming the
fields). A missing or different stream or consumer is down only when fedsaga may
not fix it (nats.jetstream.manage_streams = false); otherwise the worker creates
or updates it at start-up.
With --database NAME, check that database only; with --nats, NATS only.`,
		Args: noArgs,
	}
	out := outputFlag(cmd, "text")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.load(); err != nil {
			return err
		}
		var names []string
		if database != "" {
			if _, ok := a.cfg.Databases[database]; !ok {
				return usagef("--database %q: not configured; configured databases: %s", database,
					strings.Join(slices.Sorted(maps.Keys(a.cfg.Databases)), ", "))
			}
			names = []string{database}
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
		defer cancel()
		var checks []worker.Check
		var err error
		if natsOnly {
			checks = worker.NATSChecks(ctx, a.cfg, a.logger)
		} else {
			checks, err = worker.Health(ctx, a.cfg, a.logger, names...)
		}
		if err != nil {
			return err
		}
		err = out.print(cmd.OutOrStdout(), checks, lines(checks))
		var down []string
		for _, c := range checks {
			if !c.OK {
				down = append(down, c.Name)
			}
		}
		if err == nil && len(down) > 0 {
			err = fmt.Errorf("down: %s", strings.Join(down, ", "))
		}
		return err
	}
	cmd.Flags().StringVar(&database, "database", "", "check only this database (e.g. inventory)")
	cmd.Flags().BoolVar(&natsOnly, "nats", false, "check only NATS, its streams and consumers")
	cmd.PreRunE = func(cmd *cobra.Command, _ []string) error { return exclusive(cmd, "nats", "database") }
	return cmd
}
