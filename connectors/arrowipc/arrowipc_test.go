package arrowipc

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExamples(t *testing.T) {
	spectest.RunAll(t, ReadSpec())
	spectest.RunAll(t, WriteSpec())
}

func TestRegister(t *testing.T) {
	r := flow.NewRegistry()
	Register(r)
	for _, n := range []string{"arrow.read", "source.arrow", "arrow.write", "sink.arrow"} {
		if _, ok := r.Lookup(n); !ok {
			t.Errorf("%s not registered", n)
		}
	}
}

const sample = `{"id":1,"name":"ana","score":1.5,"ok":true,"at":"2024-01-01T00:00:00.123456Z"}
{"id":null,"name":null,"score":null,"ok":null,"at":null}
{"id":3,"name":"b","score":-2,"ok":false,"at":"1969-12-31T23:59:59Z"}
`

func TestRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "x.arrow")
	b, err := batch.FromNDJSON(mem, sample, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := []arrow.RecordBatch{b.NewSlice(0, 2), b.NewSlice(2, 3)}
	b.Release()
	res, err := flow.RunIsolated(context.Background(), WriteSpec(), map[string]any{"path": p}, flow.BuildEnv{Alloc: mem}, "", in)
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	res, err = flow.RunIsolated(context.Background(), ReadSpec(), map[string]any{"path": p}, flow.BuildEnv{Alloc: mem}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Output) != 2 {
		t.Fatalf("%d batches", len(res.Output))
	}
	if got := batch.ToNDJSON(res.Output...); got != sample {
		t.Fatalf("got\n%s", got)
	}
	if ts := res.Output[0].Schema().Field(4).Type.(*arrow.TimestampType); ts.TimeZone != "UTC" || ts.Unit != arrow.Microsecond {
		t.Fatalf("timestamp %s", ts)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "sub")); len(entries) != 1 {
		t.Fatalf("files: %v", entries)
	}
}

func TestStreamAndGlob(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.arrow"), []byte(exampleFile(`{"id":1,"v":1}`, true)), 0o644)
	os.WriteFile(filepath.Join(dir, "b.arrow"), []byte(exampleFile(`{"id":2,"v":0.5,"w":"x"}`, false)), 0o644)
	res, err := flow.RunIsolated(context.Background(), ReadSpec(), map[string]any{"path": filepath.Join(dir, "*.arrow")}, flow.BuildEnv{Alloc: mem}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if got := batch.ToNDJSON(res.Output...); got != "{\"id\":1,\"v\":1,\"w\":null}\n{\"id\":2,\"v\":0.5,\"w\":\"x\"}\n" {
		t.Fatalf("got\n%s", got)
	}
	os.WriteFile(filepath.Join(dir, "bad.arrow"), []byte("not arrow"), 0o644)
	if _, err := flow.RunIsolated(context.Background(), ReadSpec(), map[string]any{"path": filepath.Join(dir, "bad.arrow")}, flow.BuildEnv{Alloc: mem}, ""); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	w := &writer{path: filepath.Join(dir, "x.arrow"), mem: mem}
	b, err := batch.FromNDJSON(mem, `{"a":1}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if err := w.Write(context.Background(), nil, b); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}
