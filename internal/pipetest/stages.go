package pipetest

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// The test-only stages. They are registered in a copy of the catalog's
// registry built for each case, never in the registry `conveyor run` uses.
const (
	specRows    = "test.rows"
	specCollect = "test.collect"
)

// feed is what one test.rows stage emits.
type feed struct {
	schema    *arrow.Schema
	data      Data
	batchSize int
}

// collector receives what reaches one test.collect stage.
type collector struct {
	fields []arrow.Field // union of the batches' fields, in order
	rows   []map[string]any
}

func (c *collector) add(b arrow.RecordBatch) {
	for _, f := range b.Schema().Fields() {
		if !slices.ContainsFunc(c.fields, func(g arrow.Field) bool { return g.Name == f.Name }) {
			c.fields = append(c.fields, f)
		}
	}
	c.rows = append(c.rows, batch.Rows(b)...)
}

// runState binds the test stages of one case to its data.
type runState struct {
	feeds      map[string]*feed      // by the replaced stage's id
	collectors map[string]*collector // by target ("save", "load.errors")
}

// testSpecs returns the specs of test.rows and test.collect bound to rs.
func testSpecs(rs *runState) []*flow.Spec {
	rows := &flow.Spec{
		Name:    specRows,
		Kind:    flow.KindSource,
		Summary: "Test input: emits a test case's rows (conveyor test only)",
		Description: "Replaces a source (or a stubbed stage) in `conveyor test`: emits the rows of the case's " +
			"[case.input.STAGE], or nothing. A row that does not fit the schema is rejected like a bad row of a real source.",
		Params: []flow.Param{{Name: "stage", Type: flow.TypeString, Required: true, Doc: "The replaced stage's id."}},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return &rowsSource{feed: rs.feeds[cfg.Str("stage")], batchSize: env.BatchSize}, nil
		},
		Schema: func(cfg flow.Config, _ flow.BuildEnv, _ []*arrow.Schema) (*arrow.Schema, error) {
			if f := rs.feeds[cfg.Str("stage")]; f != nil {
				return f.schema, nil
			}
			return nil, nil
		},
	}
	collect := &flow.Spec{
		Name:        specCollect,
		Kind:        flow.KindSink,
		Summary:     "Test output: keeps the rows it receives in memory (conveyor test only)",
		Description: "Replaces every sink in `conveyor test`, and reads each other stage or port a case expects rows at.",
		Params:      []flow.Param{{Name: "target", Type: flow.TypeString, Required: true, Doc: "What the rows are compared for."}},
		MinInputs:   1,
		MaxInputs:   1,
		New: func(cfg flow.Config, _ flow.BuildEnv) (any, error) {
			c := rs.collectors[cfg.Str("target")]
			if c == nil {
				c = &collector{}
			}
			return &collectSink{c: c}, nil
		},
	}
	return []*flow.Spec{rows, collect}
}

// rowsSource is test.rows's operator.
type rowsSource struct {
	feed      *feed
	batchSize int
}

// Run emits the rows in batches of the input's batch_size (default: the
// pipeline's). A row that does not fit the schema is rejected with its
// place in the test file, under the pipeline's error strategy.
func (r *rowsSource) Run(ctx context.Context, st *flow.Stage) error {
	f := r.feed
	if f == nil || len(f.data.Rows) == 0 {
		return nil
	}
	b, err := batch.NewBuilder(st.Alloc, f.schema)
	if err != nil {
		return fmt.Errorf("stage %q: test input: %w", st.ID, err)
	}
	defer b.Release()
	size := f.batchSize
	if size <= 0 {
		size = r.batchSize
	}
	if size <= 0 {
		size = flow.DefaultBatchSize
	}
	for i, row := range f.data.Rows {
		if err := b.Append(row); err != nil {
			if rerr := st.Reject(ctx, flow.Rejection{Err: err, Source: f.data.Where[i], Row: row}); rerr != nil {
				return rerr
			}
			continue
		}
		if b.Len() >= size {
			if err := st.Emit(ctx, b.NewBatch()); err != nil {
				return err
			}
		}
	}
	if b.Len() > 0 {
		return st.Emit(ctx, b.NewBatch())
	}
	return nil
}

// collectSink is test.collect's operator.
type collectSink struct{ c *collector }

func (s *collectSink) Write(_ context.Context, _ *flow.Stage, b arrow.RecordBatch) error {
	s.c.add(b)
	return nil
}

func (s *collectSink) Close(context.Context, *flow.Stage) error { return nil }

func (s *collectSink) Abort() {}
