package wasm_test

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/wasm"
)

func specOf(t testing.TB, p *wasm.Plugin, name string) *flow.Spec {
	t.Helper()
	for _, s := range p.Specs() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("plugin %s has no stage %s", p.Info().Name, name)
	return nil
}

// run runs one stage over NDJSON batches on a checked allocator and
// returns its output and errors-port rows as NDJSON.
func run(t *testing.T, spec *flow.Spec, cfg map[string]any, strategy flow.Strategy, inputs ...string) (out, rejected string, err error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var in []arrow.RecordBatch
	for _, s := range inputs {
		b, err := batch.FromNDJSON(mem, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, b)
	}
	res, err := flow.RunIsolated(context.Background(), spec, cfg, flow.BuildEnv{Alloc: mem, StageID: "plug"}, strategy, in)
	if err != nil {
		return "", "", err
	}
	defer res.Release()
	return batch.ToNDJSON(res.Output...), batch.ToNDJSON(res.Ports[flow.PortErrors]...), nil
}
