package bench

// WASM plugin benchmarks: the cost of sending whole 64k-row batches into a
// pass-through WASM guest (wasm/examples/rowtools) and back, against a
// built-in pass-through, per batch and in a CSV → pass-through → Parquet
// pipeline. The guest is built once per run (go build, -trimpath so that
// its compiled form is found in the wazero compilation cache).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/wasm"
)

var (
	wasmGuestOnce sync.Once
	wasmGuestPath string
	wasmGuestErr  error
)

// wasmPlugin builds the rowtools guest (once) and opens it.
func wasmPlugin(b *testing.B, caps wasm.Capabilities) *wasm.Plugin {
	b.Helper()
	wasmGuestOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "conveyor-bench-wasm")
		if wasmGuestErr = os.MkdirAll(dir, 0o755); wasmGuestErr != nil {
			return
		}
		wasmGuestPath = filepath.Join(dir, "rowtools.wasm")
		cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", wasmGuestPath, "../wasm/examples/rowtools")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			wasmGuestErr = fmt.Errorf("building the guest: %v\n%s", err, out)
		}
	})
	if wasmGuestErr != nil {
		b.Fatal(wasmGuestErr)
	}
	p, err := wasm.Open(wasmGuestPath, caps, wasm.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

// wasmBaselineSpec is the built-in pass-through the plugin is compared
// with: a Transformer that emits its input.
func wasmBaselineSpec() *flow.Spec {
	return &flow.Spec{Name: "bench.wasm_baseline", Kind: flow.KindTransform, Summary: "pass-through",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return passThrough{}, nil }}
}

type passThrough struct{}

func (passThrough) Transform(_ context.Context, _ *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	in.Retain()
	return in, nil
}

func wasmSpec(b *testing.B, p *wasm.Plugin, name string) *flow.Spec {
	for _, s := range p.Specs() {
		if s.Name == name {
			return s
		}
	}
	b.Fatalf("no stage %s", name)
	return nil
}

// BenchmarkWASMPassthrough runs 16 batches of 64k rows (int, float,
// string, bool columns) through a pass-through stage: built in, in a WASM
// plugin, and in a WASM plugin with a per-call timeout (which compiles the
// guest with cancellation checks).
func BenchmarkWASMPassthrough(b *testing.B) {
	const nBatches = 16
	batches := buildBatches(nBatches*opsBatch, 11,
		column{"id", arrow.PrimitiveTypes.Int64, func(bld array.Builder, row int, _ *rand.Rand) {
			bld.(*array.Int64Builder).Append(int64(row))
		}},
		column{"amount", arrow.PrimitiveTypes.Float64, func(bld array.Builder, _ int, r *rand.Rand) {
			bld.(*array.Float64Builder).Append(r.Float64() * 1000)
		}},
		column{"country", arrow.BinaryTypes.String, func(bld array.Builder, _ int, r *rand.Rand) {
			bld.(*array.StringBuilder).Append(countries[r.IntN(len(countries))])
		}},
		column{"flag", arrow.FixedWidthTypes.Boolean, func(bld array.Builder, row int, _ *rand.Rand) {
			bld.(*array.BooleanBuilder).Append(row%3 == 0)
		}},
	)
	defer releaseAll(batches)
	variants := []struct {
		name string
		spec func(b *testing.B) *flow.Spec
	}{
		{"builtin", func(*testing.B) *flow.Spec { return wasmBaselineSpec() }},
		{"wasm", func(b *testing.B) *flow.Spec {
			return wasmSpec(b, wasmPlugin(b, wasm.Capabilities{}), "rowtools.passthrough")
		}},
		{"wasm-timeout", func(b *testing.B) *flow.Spec {
			return wasmSpec(b, wasmPlugin(b, wasm.Capabilities{Timeout: time.Minute}), "rowtools.passthrough")
		}},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			spec := v.spec(b)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for _, in := range batches {
					in.Retain()
				}
				res, err := flow.RunIsolated(context.Background(), spec, nil, flow.BuildEnv{}, "", batches)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Output) != nBatches || res.Output[0].NumRows() != opsBatch {
					b.Fatalf("%d batches out", len(res.Output))
				}
				res.Release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*nBatches)/1e6, "ms/batch")
		})
	}
}

// BenchmarkWASMPipeline runs csv.read → pass-through → parquet.write over
// 1M rows, with the pass-through built in or in a WASM plugin.
func BenchmarkWASMPipeline(b *testing.B) {
	dir, path, size := benchInput(b)
	for _, v := range []string{"builtin", "wasm"} {
		b.Run(v, func(b *testing.B) {
			reg := benchRegistry()
			fn := "bench.wasm_baseline"
			if v == "wasm" {
				for _, s := range wasmPlugin(b, wasm.Capabilities{}).Specs() {
					reg.Register(s)
				}
				fn = "rowtools.passthrough"
			} else {
				reg.Register(wasmBaselineSpec())
			}
			src := fmt.Sprintf(`
[[stages]]
id = "read"
function = "csv.read"
[stages.config]
path = %q
[[stages]]
id = "pass"
function = %q
inputs = ["read"]
[[stages]]
id = "out"
function = "parquet.write"
inputs = ["pass"]
[stages.config]
path = "out.parquet"
`, path, fn)
			b.ReportAllocs()
			b.ResetTimer()
			var rows int64
			for range b.N {
				rows = runPipeline(b, src, reg, dir)
			}
			report(b, rows, size)
		})
	}
}

// BenchmarkWASMCall measures the fixed cost of one call into a plugin: a
// one-row batch through the pass-through, with and without a timeout.
func BenchmarkWASMCall(b *testing.B) {
	rows := buildBatches(1, 3, column{"id", arrow.PrimitiveTypes.Int64, func(bld array.Builder, row int, _ *rand.Rand) {
		bld.(*array.Int64Builder).Append(int64(row))
	}})
	defer releaseAll(rows)
	for _, v := range []struct {
		name string
		caps wasm.Capabilities
	}{{"no-timeout", wasm.Capabilities{}}, {"timeout", wasm.Capabilities{Timeout: time.Minute}}} {
		b.Run(v.name, func(b *testing.B) {
			spec := wasmSpec(b, wasmPlugin(b, v.caps), "rowtools.passthrough")
			op, err := spec.New(flow.Config{}, flow.BuildEnv{})
			if err != nil {
				b.Fatal(err)
			}
			t := op.(flow.Transformer)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				out, err := t.Transform(context.Background(), nil, rows[0])
				if err != nil {
					b.Fatal(err)
				}
				out.Release()
			}
		})
	}
}
