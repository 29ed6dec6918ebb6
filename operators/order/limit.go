package order

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

const limitName = "limit.apply"

// limitOp is limit.apply's Transformer: it skips offset rows, then passes n
// rows on as zero-copy slices of its input, then discards the rest (still
// reading it, so that upstream stages never block on a stage that stopped
// listening).
type limitOp struct {
	skip int64 // rows still to skip
	left int64 // rows still to pass
}

func newLimit(cfg flow.Config, env flow.BuildEnv) (any, error) {
	return &limitOp{skip: int64(cfg.Int("offset")), left: int64(cfg.Int("n"))}, nil
}

// Transform borrows in and returns in itself (Retained), a slice of it, or
// nil.
func (l *limitOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := in.NumRows()
	if l.left == 0 || n == 0 {
		return nil, nil
	}
	start := min(l.skip, n)
	l.skip -= start
	end := min(n, start+l.left)
	if start == end {
		return nil, nil
	}
	l.left -= end - start
	if start == 0 && end == n {
		in.Retain()
		return in, nil
	}
	return in.NewSlice(start, end), nil
}

func limitSchema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	return inputs[0], nil
}
