package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/worker"
)

func (a *app) healthCmd() *cobra.Command {
	var database string
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check the databases, Temporal and NATS; exit 1 naming what is down",
		Long: `Check every configured database, Temporal and NATS (with its streams).
With --database NAME, check that database only.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(); err != nil {
				return err
			}
			if _, ok := a.cfg.Databases[database]; database != "" && !ok {
				return usagef("--database %q: not configured; configured databases: %s", database, strings.Join(sortedNames(a.cfg), ", "))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			out := cmd.OutOrStdout()
			var down []string
			report := func(name, detail string, err error) {
				if err != nil {
					down = append(down, name)
					fmt.Fprintf(out, "DOWN  %-10s %s\n", name, err)
					return
				}
				fmt.Fprintf(out, "ok    %-10s %s\n", name, detail)
			}

			dbs, err := pg.Open(a.cfg.Databases, a.logger)
			if err != nil {
				return err
			}
			defer dbs.Close()
			var names []string
			if database != "" {
				names = []string{database}
			}
			statuses, err := dbs.Health(ctx, names...)
			if err != nil {
				return err
			}
			for _, s := range statuses {
				report(s.Database, fmt.Sprintf("%s (%s)", s.URL, s.Latency.Round(time.Microsecond)), s.Err)
			}
			if database == "" {
				report("temporal", a.cfg.Temporal.Address, a.checkTemporal(ctx))
				detail, err := a.checkNATS(ctx)
				report("nats", detail, err)
			}
			if len(down) > 0 {
				return fmt.Errorf("down: %s", strings.Join(down, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&database, "database", "", "check only this database (e.g. inventory)")
	return cmd
}

func (a *app) checkTemporal(ctx context.Context) error {
	c, err := worker.DialTemporal(ctx, a.cfg.Temporal, a.logger)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.CheckHealth(ctx, nil)
	return err
}

// checkNATS connects to NATS and JetStream. Missing streams are reported
// but are not a failure: the worker creates them at start-up.
func (a *app) checkNATS(ctx context.Context) (string, error) {
	url := config.RedactURL(a.cfg.NATS.URL)
	nc, err := worker.ConnectNATS(a.cfg.NATS, a.logger)
	if err != nil {
		return url, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return url, err
	}
	if _, err := js.AccountInfo(ctx); err != nil {
		return url, fmt.Errorf("jetstream not available at %s: %w", url, err)
	}
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(a.cfg.NATS.JetStream.Streams)) {
		if _, err := js.Stream(ctx, name); errors.Is(err, jetstream.ErrStreamNotFound) {
			missing = append(missing, name)
		} else if err != nil {
			return url, fmt.Errorf("stream %s: %w", name, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("%s (streams not created yet: %s; the worker creates them)", url, strings.Join(missing, ", ")), nil
	}
	return url + " (jetstream, streams present)", nil
}

func sortedNames(cfg *config.Config) []string {
	return slices.Sorted(maps.Keys(cfg.Databases))
}
