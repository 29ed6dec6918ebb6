// Package discard provides discard.write, a sink that drops every row it
// receives after counting it: for benchmarks (measure a pipeline without
// the cost of writing), for dry runs of a pipeline's transforms, and for
// streams kept only for their side outputs or metrics.
package discard

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

// Spec is the spec of discard.write.
func Spec() *flow.Spec {
	return &flow.Spec{
		Name:    "discard.write",
		Kind:    flow.KindSink,
		Aliases: []string{"null.write", "blackhole"},
		Summary: "Drop every row (counted in the run summary and metrics): for benchmarks and dry runs.",
		Description: `discard.write accepts every batch and releases it at once. Its rows in are
counted like any stage's (the run summary, the stream metrics), so it measures a
pipeline's sources and transforms without the cost of a writer. It never fails
and never applies backpressure of its own.`,
		Tags: []string{"sink", "benchmark"},
		Examples: []flow.Example{{
			Title:  "Run the transforms, keep nothing",
			Config: "",
			Input:  "{\"id\":1}\n{\"id\":2}\n",
		}},
		New: func(flow.Config, flow.BuildEnv) (any, error) { return sink{}, nil },
	}
}

// Register adds discard.write to r.
func Register(r *flow.Registry) { r.Register(Spec()) }

type sink struct{}

// Write drops b (borrowed; the runtime releases it).
func (sink) Write(context.Context, *flow.Stage, arrow.RecordBatch) error { return nil }
func (sink) Close(context.Context, *flow.Stage) error                    { return nil }
func (sink) Abort()                                                      {}

// Durable: nothing is kept, so every barrier is acknowledged at once.
func (sink) Durable(context.Context, *flow.Stage) error { return nil }
