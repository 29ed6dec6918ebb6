package flow

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// stepSink consumes one batch per token the test sends, and reports each
// batch it finished with.
type stepSink struct {
	tokens <-chan struct{}
	done   chan<- int64
}

func (s stepSink) Write(ctx context.Context, st *Stage, b arrow.RecordBatch) error {
	select {
	case <-s.tokens:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.done <- b.NumRows()
	return nil
}
func (stepSink) Close(context.Context, *Stage) error { return nil }
func (stepSink) Abort()                              {}

// With a sink slower than the source, the source is held back by the
// bounded channels: it never runs more than the pipeline's in-flight
// capacity ahead of the sink, and the memory held by batches stays flat
// however many batches pass.
func TestSlowSinkThrottlesSourceAndMemoryStaysFlat(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tokens := make(chan struct{})
	done := make(chan int64, 1)
	reg := testRegistry()
	reg.Register(&Spec{Name: "test.step", Kind: KindSink, Summary: "one batch per token",
		New: func(Config, BuildEnv) (any, error) { return stepSink{tokens, done}, nil }})
	const batches, rows = 2000, 1000
	r, finished := startPipeline(context.Background(), t, reg, `
[global]
channel_capacity = 2
[[stages]]
id = "gen"
function = "test.gen"
[stages.config]
rows = 2000000
batch = 1000
[[stages]]
id = "double"
function = "test.double"
inputs = ["gen"]
[[stages]]
id = "slow"
function = "test.step"
inputs = ["double"]
`, Options{Alloc: mem})
	// In flight at most: one batch in the sink, two in each channel, one
	// held by double and one by gen while they wait to send.
	const slack = 1 + 2 + 1 + 2 + 1
	batchBytes := int64(rows * 8)
	var peak int
	for consumed := int64(0); consumed < batches; consumed++ {
		// Let the source run as far ahead as it can: it must reach the
		// sink's position plus the channels' capacity...
		for r.Report()[0].BatchesOut < min(consumed+slack-1, batches) {
			runtimeGosched()
		}
		// ...and no further.
		if out := r.Report()[0].BatchesOut; out > consumed+slack {
			t.Fatalf("source %d batches ahead of the sink after %d consumed (bound %d)", out-consumed, consumed, slack)
		}
		if cur := mem.CurrentAlloc(); cur > peak {
			peak = cur
		}
		tokens <- struct{}{}
		<-done
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	// Every batch was 8 KB of values (double's output is a new batch);
	// memory never held more than the in-flight batches, not the 16 MB
	// that passed.
	if limit := int((slack + 2) * batchBytes * 2); peak > limit {
		t.Errorf("peak batch memory %d bytes, more than %d for %d in-flight batches", peak, limit, slack)
	}
	if peak == 0 {
		t.Error("no memory accounted: the test measured nothing")
	}
	t.Logf("source throttled to %d batches ahead; peak batch memory %d KB over %d MB passed", slack, peak/1024, batches*batchBytes>>20)
}
