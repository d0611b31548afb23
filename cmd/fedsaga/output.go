package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"
)

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
