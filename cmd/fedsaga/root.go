package main

import (
	"os"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation/pg"
	"github.com/fedsaga/fedsaga/logging"
)

// app holds what every subcommand shares: the --config flag, and the
// configuration and logger loaded from it.
type app struct {
	configPath string
	cfg        *config.Config
	logger     zerolog.Logger
}

func newRoot() *cobra.Command {
	a := &app{}
	root := &cobra.Command{
		Use:           "fedsaga",
		Short:         "Durable saga orchestration on Temporal across PostgreSQL databases",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "",
		"configuration file (default: $FEDSAGA_CONFIG, then ./fedsaga.toml)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		a.workerCmd(),
		a.migrateCmd(),
		a.seedCmd(),
		a.healthCmd(),
		a.configCmd(),
		a.orderCmd(),
		a.sagaCmd(),
		a.eventsCmd(),
		a.serveCmd(),
	)
	return root
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
	return nil
}

// noArgs refuses positional arguments with exit code 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

// databases loads the configuration and opens the database pools.
func (a *app) databases() (*pg.Registry, error) {
	if err := a.load(); err != nil {
		return nil, err
	}
	return pg.Open(a.cfg.Databases, a.logger)
}
