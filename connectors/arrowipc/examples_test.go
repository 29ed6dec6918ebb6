package arrowipc

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// runExamples runs every example of spec through flow.RunIsolated.
func runExamples(t *testing.T, spec *flow.Spec) {
	t.Helper()
	if len(spec.Examples) == 0 {
		t.Fatalf("%s has no example", spec.Name)
	}
	for _, ex := range spec.Examples {
		t.Run(ex.Title, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
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
			raw := map[string]any{}
			if _, err := toml.Decode(ex.Config, &raw); err != nil {
				t.Fatalf("config: %v", err)
			}
			var inputs [][]arrow.RecordBatch
			if spec.Kind != flow.KindSource {
				in, err := batch.FromNDJSON(mem, ex.Input, nil)
				if err != nil {
					t.Fatalf("input: %v", err)
				}
				inputs = append(inputs, []arrow.RecordBatch{in})
			}
			res, err := flow.RunIsolated(context.Background(), spec, raw, flow.BuildEnv{Alloc: mem, BaseDir: dir}, "", inputs...)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			if spec.Kind == flow.KindSource {
				if got := batch.ToNDJSON(res.Output...); got != ex.Output {
					t.Fatalf("output:\n%s\nwant:\n%s", got, ex.Output)
				}
			}
			for name, want := range ex.WantFiles {
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want {
					t.Fatalf("%s:\n%s\nwant:\n%s", name, got, want)
				}
			}
		})
	}
}
