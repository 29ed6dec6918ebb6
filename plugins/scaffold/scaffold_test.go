package scaffold_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/plugins"
	"github.com/conveyor-etl/conveyor/plugins/scaffold"
)

// Each language's scaffold builds with make into a loadable plugin whose
// stage passes rows through and appends NAME_seen = true.
func TestScaffoldBuildsAWorkingPlugin(t *testing.T) {
	for _, tool := range []string{"make", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: plugins cannot be built", tool)
		}
	}
	for _, lang := range scaffold.Languages {
		t.Run(lang, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "geo")
			if err := scaffold.Scaffold(dir, "geo", lang); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("make")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOPROXY=off") // the Go scaffold needs no module
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make: %v\n%s", err, out)
			}
			p, err := plugins.Open(filepath.Join(dir, "geo.so"), plugins.Options{})
			if err != nil {
				t.Fatal(err)
			}
			specs := p.Specs()
			if len(specs) != 1 || specs[0].Name != "geo.example" || specs[0].Kind != flow.KindTransform {
				t.Fatalf("specs: %+v", specs)
			}
			spectest.RunAll(t, specs[0])

			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			in, err := batch.FromNDJSON(mem, "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":null}\n{\"id\":3,\"name\":\"c\"}\n", nil)
			if err != nil {
				t.Fatal(err)
			}
			// A slice: the batch starts at an offset.
			sliced := in.NewSlice(1, 3)
			in.Release()
			res, err := flow.RunIsolated(context.Background(), specs[0], nil, flow.BuildEnv{Alloc: mem}, "", []arrow.RecordBatch{sliced})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			want := "{\"id\":2,\"name\":null,\"geo_seen\":true}\n{\"id\":3,\"name\":\"c\",\"geo_seen\":true}\n"
			if got := batch.ToNDJSON(res.Output...); got != want {
				t.Errorf("output:\n%s\nwant:\n%s", got, want)
			}
			if f := res.Output[0].Schema().Field(2); f.Name != "geo_seen" || f.Type.ID() != arrow.BOOL {
				t.Errorf("column: %v", f)
			}
		})
	}
}

func TestScaffoldRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := scaffold.Scaffold(dir, "Geo", "c"); err == nil {
		t.Error("an upper-case name was accepted")
	}
	if err := scaffold.Scaffold(dir, "geo", "rust"); err == nil {
		t.Error("an unknown language was accepted")
	}
	if err := scaffold.Scaffold(dir, "geo", "c"); err != nil {
		t.Fatal(err)
	}
	if err := scaffold.Scaffold(dir, "geo", "c"); !errors.Is(err, scaffold.ErrExists) {
		t.Errorf("writing over a scaffold: %v", err)
	}
}
