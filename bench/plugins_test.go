package bench

// Native plugin benchmarks: the per-batch cost of a stage that hands every
// 64k-row batch to a pass-through plugin (the C library below, which moves
// its input to its output), next to a built-in Go pass-through, in the same
// run: in process (isolation = "none": the batch crosses the Arrow C Data
// Interface without a copy) and process-isolated (isolation = "process":
// the batch goes to a `conveyor plugin-host` child and back as Arrow IPC
// over pipes). BenchmarkPluginCSVToParquet puts the same stage between
// csv.read and parquet.write to show the overhead's share of a real job.
//
// They need gcc (skipped without it); process isolation also builds the
// conveyor binary (cached by the go command after the first build).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugins"
)

// passThroughC is a plugin whose one stage moves its input to its output.
const passThroughC = `#include "conveyor_plugin.h"
static int create(const char *c, const char *e, void **h) { (void)c; (void)e; *h = (void *)1; return CONVEYOR_OK; }
static int process(void *h, struct ArrowSchema *is, struct ArrowArray *in, struct ArrowSchema *os, struct ArrowArray *out) {
  (void)h;
  *os = *is; is->release = 0;
  *out = *in; in->release = 0;
  return CONVEYOR_OK;
}
static void destroy(void *h) { (void)h; }
static const char *last_error(void *h) { (void)h; return "none"; }
static const ConveyorStage stages[] = {{
  "{\"name\": \"pass.through\", \"kind\": \"transform\", \"summary\": \"Pass batches through.\","
  " \"description\": \"Moves each input batch to the output.\"}",
  create, process, 0, 0, destroy, last_error}};
static const ConveyorPlugin plugin = {CONVEYOR_PLUGIN_API_VERSION, 1, "pass", "1.0.0", "Pass-through.", stages};
const ConveyorPlugin *conveyor_plugin_declare(void) { return &plugin; }
`

var (
	pluginOnce  sync.Once
	pluginDir   string
	pluginErr   error
	passLibrary string
	hostBinary  string
)

// pluginArtifacts builds the pass-through library and the conveyor binary
// once per benchmark process.
func pluginArtifacts(b *testing.B) (lib, host string) {
	b.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		b.Skip("gcc is not installed: native plugins cannot be built")
	}
	pluginOnce.Do(func() {
		pluginDir, pluginErr = os.MkdirTemp("", "conveyor-bench-plugins")
		if pluginErr != nil {
			return
		}
		src := filepath.Join(pluginDir, "pass.c")
		if pluginErr = os.WriteFile(src, []byte(passThroughC), 0o644); pluginErr != nil {
			return
		}
		inc, _ := filepath.Abs(filepath.Join("..", "plugins", "include"))
		passLibrary = filepath.Join(pluginDir, "pass.so")
		if out, err := exec.Command("gcc", "-O2", "-fPIC", "-shared", "-I"+inc, "-o", passLibrary, src).CombinedOutput(); err != nil {
			pluginErr = fmt.Errorf("gcc: %v\n%s", err, out)
			return
		}
		hostBinary = filepath.Join(pluginDir, "conveyor")
		cmd := exec.Command("go", "build", "-o", hostBinary, "../cmd/conveyor")
		if out, err := cmd.CombinedOutput(); err != nil {
			pluginErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if pluginErr != nil {
		b.Fatal(pluginErr)
	}
	return passLibrary, hostBinary
}

// builtinPass is the built-in pass-through the plugin is compared with.
type builtinPass struct{}

func (builtinPass) Transform(_ context.Context, _ *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	in.Retain()
	return in, nil
}

// batchSource emits count batches, cycling through batches (retained).
type batchSource struct {
	batches []arrow.RecordBatch
	count   int
}

func (s batchSource) Run(ctx context.Context, st *flow.Stage) error {
	for i := range s.count {
		b := s.batches[i%len(s.batches)]
		b.Retain()
		if err := st.Emit(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// passRegistry is benchRegistry plus bench.pass (built in), bench.batches
// and the plugin's pass.through in the given isolation ("" for none).
func passRegistry(b *testing.B, isolation string, src batchSource) *flow.Registry {
	reg := benchRegistry()
	reg.Register(&flow.Spec{Name: "bench.pass", Kind: flow.KindTransform, Summary: "pass",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return builtinPass{}, nil }})
	reg.Register(&flow.Spec{Name: "bench.batches", Kind: flow.KindSource, Summary: "batches",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return src, nil }})
	if isolation != "" {
		lib, host := pluginArtifacts(b)
		p, err := plugins.Open(lib, plugins.Options{Isolation: isolation, HostBinary: host})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Register(reg); err != nil {
			b.Fatal(err)
		}
	}
	return reg
}

var passModes = []struct{ name, isolation, function string }{
	{"builtin", "", "bench.pass"},
	{"native", plugins.IsolationNone, "pass.through"},
	{"process", plugins.IsolationProcess, "pass.through"},
}

// BenchmarkPluginPassThrough: 64 batches of 64k event rows (6 columns,
// ~3 MB each) through a pass-through stage into a discarding sink.
// ns/batch is the wall time per batch of the whole pipeline (the stages
// run concurrently, so it is the slowest stage's time per batch).
func BenchmarkPluginPassThrough(b *testing.B) {
	const batches = 64
	mem := memory.NewGoAllocator()
	input := eventBatches(mem, 4, opsBatch)
	defer releaseAll(input)
	for _, m := range passModes {
		b.Run(m.name, func(b *testing.B) {
			reg := passRegistry(b, m.isolation, batchSource{input, batches})
			src := fmt.Sprintf(`
[[stages]]
id = "read"
function = "bench.batches"
[[stages]]
id = "pass"
function = %q
inputs = ["read"]
[[stages]]
id = "out"
function = "bench.discard"
inputs = ["pass"]
`, m.function)
			dir := b.TempDir()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				runPipeline(b, src, reg, dir)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batches), "ns/batch")
		})
	}
}

// BenchmarkPluginHostStart: starting a plugin-host child and creating the
// stage (one one-row batch through a process-isolated pass-through).
func BenchmarkPluginHostStart(b *testing.B) {
	mem := memory.NewGoAllocator()
	input := eventBatches(mem, 1, 1)
	defer releaseAll(input)
	reg := passRegistry(b, plugins.IsolationProcess, batchSource{input, 1})
	src := `
[[stages]]
id = "read"
function = "bench.batches"
[[stages]]
id = "pass"
function = "pass.through"
inputs = ["read"]
[[stages]]
id = "out"
function = "bench.discard"
inputs = ["pass"]
`
	dir := b.TempDir()
	b.ResetTimer()
	for range b.N {
		runPipeline(b, src, reg, dir)
	}
}

// BenchmarkPluginCSVToParquet: csv.read → pass-through → parquet.write
// over the 1M-row generated file, for each kind of pass-through.
func BenchmarkPluginCSVToParquet(b *testing.B) {
	dir, path, size := benchInput(b)
	for _, m := range passModes {
		b.Run(m.name, func(b *testing.B) {
			reg := passRegistry(b, m.isolation, batchSource{})
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
`, path, m.function)
			b.ReportAllocs()
			b.ResetTimer()
			var rows int64
			for range b.N {
				rows = runPipeline(b, src, reg, dir)
			}
			report(b, rows, size)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64((rows+opsBatch-1)/opsBatch), "ns/batch")
		})
	}
}
