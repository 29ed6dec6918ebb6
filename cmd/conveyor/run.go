package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/progress"
)

func newRunCmd() *cobra.Command {
	var dryRun, quiet bool
	var logLevel, logFormat string
	var progressEvery time.Duration
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a bounded pipeline to completion",
		Long: `Run validates the pipeline, runs it to completion and prints a summary.

Exit status: 0 when the pipeline finished, 1 when it failed, 2 when the
pipeline file is invalid, 130 when interrupted (Ctrl-C: the run stops at
once, and writers leave no partial file at their targets).

Progress: on a terminal, stderr shows a bar of the input read against its
size (with rows read, rows/s and ETA) and each stage's counts, refreshed 5
times a second; when stderr is not a terminal, an info log line every
--progress-interval instead. --quiet silences both; the summary table at the
end is printed in every case.`,
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
			logw := progress.NewWriter(cmd.ErrOrStderr())
			logger, err := newLogger(logw, logLevel, logFormat)
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
			prog := progress.Start(runner, progressOptions(cmd, g, logger, logw, quiet, progressEvery))
			err = runner.Run(ctx)
			prog.Stop()
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
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "show no progress (the summary is still printed)")
	cmd.Flags().DurationVar(&progressEvery, "progress-interval", 5*time.Second, "how often a progress line is logged when stderr is not a terminal")
	addSetFlag(cmd)
	return cmd
}

// progressOptions shows bars when stderr is a terminal, log lines
// otherwise, nothing with --quiet.
func progressOptions(cmd *cobra.Command, g *flow.Graph, logger *slog.Logger, logw *progress.Writer, quiet bool, every time.Duration) progress.Options {
	o := progress.Options{Out: cmd.ErrOrStderr(), Logger: logger, Log: logw, LogInterval: every, Input: progress.InputOf(g)}
	switch {
	case quiet:
		o.Mode = progress.Off
	case isTerminal(cmd.ErrOrStderr()):
		o.Mode = progress.Bar
	default:
		o.Mode = progress.Log
	}
	return o
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
