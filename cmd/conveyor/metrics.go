package main

import (
	"context"
	"log/slog"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/metrics"
)

// serveMetrics starts the metrics endpoint of `conveyor stream`: /metrics
// (the runner's per-stage counters read at each scrape, plus the Go and
// process collectors), /healthz and /readyz, on addr. stop shuts it down
// gracefully; it also stops when ctx is done.
func serveMetrics(ctx context.Context, addr string, g *flow.Graph, r *flow.Runner, logger *slog.Logger) (func(), error) {
	srv, err := metrics.Serve(ctx, addr, r, metrics.Options{Pipeline: g.File.Pipeline.Name}, logger)
	if err != nil {
		return nil, err
	}
	return func() {
		if err := srv.Shutdown(); err != nil {
			logger.Warn("metrics server", "error", err)
		}
	}, nil
}
