package main

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/logging"
	"github.com/fedsaga/fedsaga/telemetry"
)

// app holds what every subcommand shares: the --config flag, and the
// configuration and logger loaded from it.
type app struct {
	configPath string
	cfg        *config.Config
	logger     zerolog.Logger
	tracing    *telemetry.Tracing // [telemetry]; shut down when the command ends
}

func newRoot() *cobra.Command {
	root, _ := newApp()
	return root
}

// newApp is the command tree and the app its commands share.
func newApp() (*cobra.Command, *app) {
	a := &app{}
	root := group("fedsaga", "Durable saga orchestration on Temporal across PostgreSQL databases",
		a.workerCmd(),
		a.migrateCmd(),
		a.seedCmd(),
		a.healthCmd(),
		a.configCmd(),
		a.orderCmd(),
		a.sagaCmd(),
		a.eventsCmd(),
		a.serveCmd(),
		a.codecServerCmd(),
		versionCmd(),
	)
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.PersistentFlags().StringVar(&a.configPath, "config", "",
		"configuration file (default: $FEDSAGA_CONFIG, then ./fedsaga.toml)")
	versionFlag(root)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return root, a
}

// group is a command that only holds subcommands. Alone it prints its
// help; followed by a word that is not one of its subcommands it is a usage
// error (exit code 2), with cobra's suggestions.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:                        use,
		Short:                      short,
		SuggestionsMinimumDistance: 2,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			hint := "; see " + cmd.CommandPath() + " --help"
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				hint = "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return usagef("unknown command %q for %q%s", args[0], cmd.CommandPath(), hint)
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(subs...)
	return cmd
}

// load reads and validates the configuration and builds the logger.
func (a *app) load() error {
	cfg, err := config.Load(a.configPath)
	if err != nil {
		return err
	}
	logger, err := logging.New(os.Stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return err
	}
	a.cfg, a.logger = cfg, logger
	a.tracing, err = telemetry.Start(context.Background(), cfg.Telemetry)
	return err
}

// close exports the spans still buffered; a command's last ones would be
// lost otherwise.
func (a *app) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.tracing.Shutdown(ctx); err != nil {
		a.logger.Warn().Err(err).Msg("telemetry: could not export the last spans")
	}
}

// noArgs refuses positional arguments with exit code 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// withDatabases loads the configuration, opens the database pools and
// runs fn.
func (a *app) withDatabases(fn func(*pg.Registry) error) error {
	if err := a.load(); err != nil {
		return err
	}
	dbs, err := pg.Open(a.cfg.Databases, a.logger, pg.WithTracing(a.cfg.Telemetry.Enabled))
	if err != nil {
		return err
	}
	defer dbs.Close()
	return fn(dbs)
}
