package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/conveyor-etl/conveyor/flow"
)

// serveMetrics starts the metrics endpoint of `conveyor stream`.
func serveMetrics(ctx context.Context, addr string, g *flow.Graph, r *flow.Runner, logger *slog.Logger) (func(), error) {
	return nil, fmt.Errorf("--metrics-addr: the metrics server is not built yet")
}
