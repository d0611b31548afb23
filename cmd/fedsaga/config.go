package main

import (
	"io"

	"github.com/spf13/cobra"
)

func (a *app) configCmd() *cobra.Command {
	print := &cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration as TOML (or JSON), secrets shown as [REDACTED]",
		Args:  noArgs,
	}
	out := outputFlag(print, "text")
	print.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.load(); err != nil {
			return err
		}
		return out.print(cmd.OutOrStdout(), a.cfg.Redacted(), func(w io.Writer) error { return a.cfg.Print(w) })
	}
	return group("config", "Inspect the configuration", print)
}
