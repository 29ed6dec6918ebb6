package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/plugins"
)

// newPluginHostCmd is the child side of native plugins loaded with
// isolation = "process": conveyor starts `conveyor plugin-host FILE` per
// stage instance and exchanges Arrow IPC frames with it over its stdin and
// stdout. Not for people: hidden from help.
func newPluginHostCmd() *cobra.Command {
	return &cobra.Command{
		Use:                plugins.HostCommand + " FILE",
		Short:              "Run a native plugin for a conveyor parent process (internal)",
		Hidden:             true,
		DisableFlagParsing: true,
		Args:               cobra.ExactArgs(1),
		Run: func(cmd *cobra.Command, args []string) {
			if code := plugins.HostMain(args); code != 0 {
				os.Exit(code)
			}
		},
	}
}
