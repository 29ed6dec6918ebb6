package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
)

func newRunCmd() *cobra.Command {
	var dryRun bool
	var logLevel, logFormat string
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a bounded pipeline to completion",
		Long: `Run validates the pipeline, runs it to completion and prints a summary.

Exit status: 0 when the pipeline finished, 1 when it failed, 2 when the
pipeline file is invalid, 130 when interrupted (Ctrl-C: the run stops at
once, and writers leave no partial file at their targets).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := loadGraph(args[0])
			if err != nil {
				return err
			}
			if unb := g.UnboundedSources(); len(unb) > 0 {
				return &exitError{exitInvalid, fmt.Errorf("%s: source %s never ends by itself; run it with `conveyor stream %s`, or bound it (e.g. max_messages or count)",
					args[0], strings.Join(quoteAll(unb), ", "), args[0])}
			}
			if logLevel == "" {
				logLevel = g.File.Global.LogLevel
			}
			logger, err := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			if err != nil {
				return &exitError{exitInvalid, err}
			}
			schemas, err := inferSchemas(g)
			if err != nil {
				return err
			}
			runner, err := flow.NewRunner(g, flow.Options{Logger: logger})
			if err != nil {
				return &exitError{exitInvalid, err}
			}
			if dryRun {
				printPlan(cmd.OutOrStdout(), g, schemas)
				return nil
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err = runner.Run(ctx)
			printSummary(cmd.ErrOrStderr(), g, runner, err)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, flow.ErrInterrupted):
				return &exitError{exitInterrupted, err}
			}
			return &exitError{exitFailed, err}
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate and build every stage, print the plan, run nothing")
	cmd.Flags().StringVar(&logLevel, "log-level", "", "debug, info, warn or error (default: [global] log_level)")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "text or json")
	addSetFlag(cmd)
	return cmd
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
