package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/fedsaga/fedsaga/internal/buildinfo"
)

// versionCmd prints which build this is; it reads no configuration.
func versionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print fedsaga's version, commit and Go version",
		Args:  noArgs,
	}
	out := outputFlag(cmd, "text")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		info := buildinfo.Get()
		return out.print(cmd.OutOrStdout(), info, func(w io.Writer) error {
			_, err := io.WriteString(w, info.String())
			return err
		})
	}
	return cmd
}

// versionFlag gives root cobra's --version flag, which prints what
// `fedsaga version` prints.
func versionFlag(root *cobra.Command) {
	info := buildinfo.Get()
	root.Version = info.Version
	if root.Annotations == nil {
		root.Annotations = map[string]string{}
	}
	root.Annotations["version"] = info.String()
	root.SetVersionTemplate(`{{index .Annotations "version"}}`)
}
