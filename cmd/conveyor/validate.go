package main

import (
	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
)

func newValidateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a pipeline file without running it",
		Long: `Validate checks the pipeline file: known functions, unique ids, inputs that
name stages, no cycles, sources without inputs, every stage's parameters
against its spec, and — reading only the sources' headers and type samples —
every column a stage names and the types of its expressions. Every problem is reported with file, line, stage and key.
Exit status 2 when the pipeline is invalid.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := loadGraph(args[0])
			if err != nil {
				return err
			}
			schemas, err := inferSchemas(g)
			if err != nil {
				return err
			}
			if _, err := flow.NewRunner(g, flow.Options{}); err != nil {
				return &exitError{exitInvalid, err}
			}
			printPlan(cmd.OutOrStdout(), g, schemas)
			return nil
		},
	}
	addSetFlag(cmd)
	return cmd
}
