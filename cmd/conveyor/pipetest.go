package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newTestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test FILE|DIR...",
		Short: "Run pipeline unit tests (*_test.toml files) in memory",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return &exitError{exitInvalid, errors.New("conveyor test: not implemented yet")}
		},
	}
}
