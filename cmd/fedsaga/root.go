package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/config"
	"github.com/fedsaga/fedsaga/federation"
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
	)
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.PersistentFlags().StringVar(&a.configPath, "config", "",
		"configuration file (default: $FEDSAGA_CONFIG, then ./fedsaga.toml)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	return root
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
	return nil
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
func (a *app) withDatabases(fn func(*federation.Registry) error) error {
	if err := a.load(); err != nil {
		return err
	}
	dbs, err := federation.Open(a.cfg.Databases, a.logger)
	if err != nil {
		return err
	}
	defer dbs.Close()
	return fn(dbs)
}

// output is the --output flag of a command that prints data: "text" for
// people, "json" for programs.
type output string

// outputFlag adds --output to cmd, with the command's default format.
func outputFlag(cmd *cobra.Command, def output) *output {
	o := def
	cmd.Flags().Var(&o, "output", "output format: text or json")
	return &o
}

// jsonAlias adds the deprecated --json flag, which sets o to json.
func jsonAlias(cmd *cobra.Command, o *output) {
	// Not marked deprecated in pflag: its notice would go to stdout, into
	// the JSON.
	cmd.Flags().VarPF(jsonFlag{o}, "json", "", "deprecated: same as --output json").NoOptDefVal = "true"
}

func (o *output) String() string { return string(*o) }
func (o *output) Type() string   { return "text|json" }
func (o *output) Set(s string) error {
	if s != "text" && s != "json" {
		return fmt.Errorf("want text or json, got %q", s)
	}
	*o = output(s)
	return nil
}

// print writes v as one JSON object with --output json, else calls text.
func (o output) print(w io.Writer, v any, text func(io.Writer) error) error {
	if o == "json" {
		return json.NewEncoder(w).Encode(v)
	}
	return text(w)
}

// lines prints each row on a line, as text.
func lines[T fmt.Stringer](rows []T) func(io.Writer) error {
	return func(w io.Writer) error {
		for _, r := range rows {
			if _, err := fmt.Fprintln(w, r); err != nil {
				return err
			}
		}
		return nil
	}
}

// jsonFlag is the boolean --json flag that --output replaced.
type jsonFlag struct{ o *output }

func (j jsonFlag) String() string   { return "false" }
func (j jsonFlag) Type() string     { return "bool" }
func (j jsonFlag) IsBoolFlag() bool { return true }
func (j jsonFlag) Set(s string) error {
	on, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	if on {
		*j.o = "json"
	}
	return nil
}

// or is o, or def when the command's default depends on other flags and
// --output was not given.
func (o output) or(def output) output {
	if o == "" {
		return def
	}
	return o
}
