package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
)

func newStreamCmd() *cobra.Command {
	var logLevel, logFormat, metricsAddr string
	cmd := &cobra.Command{
		Use:   "stream FILE",
		Short: "Run a pipeline whose sources do not end, until interrupted",
		Long: `Stream runs a pipeline with live sources (stdin.stream, file.watch, generate,
Kafka, HTTP) until SIGINT or SIGTERM, then drains it: the sources stop, the
batches in flight reach the sinks, open windows are emitted or dropped as each
window stage's on_shutdown says, and the sinks flush and commit. A second
signal stops at once, like Ctrl-C during ` + "`conveyor run`" + `.

When every source ends by itself (stdin at EOF, generate with a count), the
stream ends as a bounded job does: the final watermark is +∞, every open
window is emitted, the sinks flush.

With --metrics-addr, Prometheus metrics are served on /metrics, with /healthz
and /readyz, while the pipeline runs.

Exit status: 0 when the stream ended or drained, 1 when it failed, 2 when the
pipeline file is invalid, 130 when stopped by a second signal.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := loadGraph(args[0])
			if err != nil {
				return err
			}
			if logLevel == "" {
				logLevel = g.File.Global.LogLevel
			}
			logger, err := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			if err != nil {
				return &exitError{exitInvalid, err}
			}
			if _, err := inferSchemas(g); err != nil {
				return err
			}
			runner, err := flow.NewRunner(g, flow.Options{Logger: logger})
			if err != nil {
				return &exitError{exitInvalid, err}
			}
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if metricsAddr != "" {
				stop, err := serveMetrics(ctx, metricsAddr, g, runner, logger)
				if err != nil {
					return &exitError{exitFailed, err}
				}
				defer stop()
			}
			// First signal: drain. Second: cancel (hard stop).
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			go func() {
				select {
				case s := <-sigs:
					logger.Info("draining: sources stop, in-flight rows reach the sinks", "signal", s.String())
					runner.Drain()
				case <-ctx.Done():
					return
				}
				select {
				case s := <-sigs:
					logger.Warn("stopping now", "signal", s.String())
					cancel()
				case <-ctx.Done():
				}
			}()
			err = runner.Run(ctx)
			printSummary(cmd.ErrOrStderr(), g, runner, err)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, flow.ErrInterrupted):
				return &exitError{exitInterrupted, err}
			}
			return &exitError{exitFailed, fmt.Errorf("%w", err)}
		},
	}
	cmd.Flags().StringVar(&logLevel, "log-level", "", "debug, info, warn or error (default: [global] log_level)")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "text or json")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz and /readyz on this address (e.g. 127.0.0.1:9464)")
	addSetFlag(cmd)
	return cmd
}
