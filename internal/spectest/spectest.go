// Package spectest runs the examples of stage specs in tests: one runner
// shared by every stage package and by the registry-wide example test.
package spectest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// RunAll runs every example of spec as a subtest; a spec without examples
// fails.
func RunAll(t *testing.T, spec *flow.Spec) {
	t.Helper()
	if len(spec.Examples) == 0 {
		t.Errorf("%s has no example", spec.Name)
	}
	for _, ex := range spec.Examples {
		t.Run(ex.Title, func(t *testing.T) { Run(t, spec, ex) })
	}
}

// Run runs one example through flow.RunIsolated on a checked allocator, in
// a scratch directory holding ex.Files (relative paths resolve there):
// transforms and sinks are fed ex.Input (NDJSON, column order as written);
// for sources and transforms the emitted rows, as NDJSON, must equal
// ex.Output exactly; every file of ex.WantFiles must hold exactly its
// content. A sink's Output is what it prints, which the caller checks.
func Run(t *testing.T, spec *flow.Spec, ex flow.Example) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	raw := map[string]any{}
	md, err := toml.Decode(ex.Config, &raw)
	if err != nil {
		t.Fatalf("example config is not TOML: %v", err)
	}
	// Keep the file order of sub-tables, as a pipeline file does.
	for _, k := range md.Keys() {
		if len(k) == 2 {
			if _, ok := raw[k[0]].(map[string]any); ok {
				order, _ := raw[k[0]+"\x00order"].([]string)
				raw[k[0]+"\x00order"] = append(order, k[1])
			}
		}
	}
	dir := t.TempDir()
	for name, content := range ex.Files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var inputs [][]arrow.RecordBatch
	if spec.Kind != flow.KindSource {
		parts := []string{ex.Input}
		if spec.MinInputs > 1 || spec.MaxInputs > 1 {
			parts = strings.Split(ex.Input, "---\n")
		}
		for _, part := range parts {
			in, err := batch.FromNDJSON(mem, part, nil)
			if err != nil {
				t.Fatalf("example input: %v", err)
			}
			inputs = append(inputs, []arrow.RecordBatch{in})
		}
	}
	env := flow.BuildEnv{StageID: "example", Alloc: mem, BaseDir: dir}
	res, err := flow.RunIsolated(context.Background(), spec, raw, env, flow.StrategyStop, inputs...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	defer res.Release()
	if spec.Kind != flow.KindSink {
		if got := batch.ToNDJSON(res.Output...); got != ex.Output {
			t.Errorf("output:\n%s\nwant:\n%s", got, ex.Output)
		}
	}
	for name, want := range ex.WantFiles {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("file %s:\n%q\nwant:\n%q", name, got, want)
		}
	}
}
