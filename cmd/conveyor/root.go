package main

import (
	"errors"
	"fmt"
	"github.com/apache/arrow-go/v18/arrow"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/pluginload"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "conveyor",
		Short: "Conveyor runs dataflow pipelines declared in TOML over Arrow batches",
		Long: `Conveyor runs ETL pipelines: a TOML file declares a DAG of stages
(csv.read -> filter.apply -> groupby.apply -> parquet.write) that run as
goroutines linked by bounded channels of Apache Arrow record batches.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newPluginCmd(), newRunCmd(), newStreamCmd(), newDevCmd(), newGraphCmd(), newExplainCmd(), newStageCmd(), newBuildCmd(), newDocsCmd(), newValidateCmd(), newListCmd(), newInfoCmd(), newVersionCmd(), newTestCmd(), newPluginHostCmd())
	return root
}

// loadGraph loads and validates a pipeline file. Invalid pipelines give an
// exitError with code 2.
func loadGraph(path string) (*flow.Graph, error) {
	f, err := flow.LoadFile(path)
	if err != nil {
		var ce flow.ConfigErrors
		if errors.As(err, &ce) {
			return nil, &exitError{exitInvalid, err}
		}
		return nil, &exitError{exitInvalid, fmt.Errorf("reading pipeline: %w", err)}
	}
	if err := applyOverrides(f, setFlags); err != nil {
		return nil, &exitError{exitInvalid, err}
	}
	reg, err := cliRegistry()
	if err != nil {
		return nil, &exitError{exitInvalid, err}
	}
	if len(f.Global.Plugins) > 0 {
		// The plugins stay loaded for the life of the process: their
		// stages run from them.
		if _, err := pluginload.LoadAll(f, reg); err != nil {
			return nil, &exitError{exitInvalid, err}
		}
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		return nil, &exitError{exitInvalid, err}
	}
	return g, nil
}

// inferSchemas derives the stages' output schemas before the run (reading
// only the sources' headers and type samples), so that an unknown column
// or an expression type error is reported before any data flows.
func inferSchemas(g *flow.Graph) (map[string]*arrow.Schema, error) {
	s, err := g.InferSchemas(flow.BuildEnv{BatchSize: g.File.Global.BatchSize})
	if err != nil {
		return nil, &exitError{exitInvalid, err}
	}
	return s, nil
}

// newLogger builds the process logger on stderr.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "", "info":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, fmt.Errorf("unknown log level %q (debug, info, warn, error)", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("unknown log format %q (text, json)", format)
}

// indentErr renders multi-line errors (one problem per line) readably.
func indentErr(err error) string {
	var ce flow.ConfigErrors
	if errors.As(err, &ce) && len(ce) > 1 {
		return fmt.Sprintf("%d problems:\n  %s", len(ce), strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	s := err.Error()
	if !strings.Contains(s, "\n") {
		return s
	}
	return strings.ReplaceAll(s, "\n", "\n  ")
}
