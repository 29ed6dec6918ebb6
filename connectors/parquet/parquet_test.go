package parquet

import (
	"context"
	"fmt"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
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
	for _, n := range []string{"parquet.read", "source.parquet", "parquet.write", "sink.parquet"} {
		if _, ok := r.Lookup(n); !ok {
			t.Errorf("%s not registered", n)
		}
	}
}

const sample = `{"id":1,"name":"ana","score":1.5,"ok":true,"at":"2024-01-01T00:00:00.123456Z","o":{"k":1}}
{"id":null,"name":null,"score":null,"ok":null,"at":null,"o":null}
{"id":3,"name":"ç\"x","score":-2,"ok":false,"at":"1969-12-31T23:59:59Z","o":[1]}
`

func writeFile(t *testing.T, mem memory.Allocator, cfg map[string]any, ndjson string, split int) {
	t.Helper()
	b, err := batch.FromNDJSON(mem, ndjson, nil)
	if err != nil {
		t.Fatal(err)
	}
	var in []arrow.RecordBatch
	for start := int64(0); start < b.NumRows(); start += int64(split) {
		in = append(in, b.NewSlice(start, min(start+int64(split), b.NumRows())))
	}
	b.Release()
	res, err := flow.RunIsolated(context.Background(), WriteSpec(), cfg, flow.BuildEnv{Alloc: mem}, "", in)
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
}

func readAll(t *testing.T, mem memory.Allocator, cfg map[string]any) (string, *arrow.Schema) {
	t.Helper()
	res, err := flow.RunIsolated(context.Background(), ReadSpec(), cfg, flow.BuildEnv{Alloc: mem}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	var s *arrow.Schema
	if len(res.Output) > 0 {
		s = res.Output[0].Schema()
	}
	return batch.ToNDJSON(res.Output...), s
}

func TestRoundTrip(t *testing.T) {
	for _, codec := range []string{"zstd", "snappy", "none"} {
		t.Run(codec, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			p := filepath.Join(t.TempDir(), "d", "x.parquet")
			writeFile(t, mem, map[string]any{"path": p, "compression": codec, "row_group_size": int64(2)}, sample, 1)
			got, s := readAll(t, mem, map[string]any{"path": p, "batch_size": int64(2)})
			if got != sample {
				t.Fatalf("got\n%s\nwant\n%s", got, sample)
			}
			ts := s.Field(4).Type.(*arrow.TimestampType)
			if ts.Unit != arrow.Microsecond || ts.TimeZone != "UTC" {
				t.Fatalf("timestamp type %s", ts)
			}
			if !batch.IsJSONField(s.Field(5)) {
				t.Fatal("JSON mark lost")
			}
		})
	}
}

func TestProjectionAndGlob(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	writeFile(t, mem, map[string]any{"path": filepath.Join(dir, "a.parquet")}, `{"id":1,"v":1,"c":"x"}`, 10)
	writeFile(t, mem, map[string]any{"path": filepath.Join(dir, "b.parquet")}, `{"id":2,"v":2.5,"extra":true}`, 10)
	got, s := readAll(t, mem, map[string]any{"path": filepath.Join(dir, "*.parquet")})
	if want := "{\"id\":1,\"v\":1,\"c\":\"x\",\"extra\":null}\n{\"id\":2,\"v\":2.5,\"c\":null,\"extra\":true}\n"; got != want {
		t.Fatalf("glob:\n%s", got)
	}
	if s.Field(1).Type.ID() != arrow.FLOAT64 {
		t.Fatalf("v not widened: %s", s)
	}
	got, _ = readAll(t, mem, map[string]any{"path": filepath.Join(dir, "*.parquet"), "columns": []any{"extra", "id"}})
	if want := "{\"extra\":null,\"id\":1}\n{\"extra\":true,\"id\":2}\n"; got != want {
		t.Fatalf("projection:\n%s", got)
	}
	_, err := flow.RunIsolated(context.Background(), ReadSpec(), map[string]any{"path": filepath.Join(dir, "a.parquet"), "columns": "idd"}, flow.BuildEnv{Alloc: mem}, "")
	if err == nil || !strings.Contains(err.Error(), `did you mean "id"`) {
		t.Fatalf("unknown column: %v", err)
	}
	// The planner's hint keeps the file order and ignores unknown names.
	res, err := flow.RunIsolated(context.Background(), ReadSpec(), map[string]any{"path": filepath.Join(dir, "*.parquet")}, flow.BuildEnv{Alloc: mem, Columns: []string{"extra", "nope", "id"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := batch.ToNDJSON(res.Output...), "{\"id\":1,\"extra\":null}\n{\"id\":2,\"extra\":true}\n"; got != want {
		t.Errorf("hint:\n%s", got)
	}
	res.Release()
	// Spec.Schema reads the metadata only.
	sc, err := readSchema(flow.Config{"path": filepath.Join(dir, "*.parquet"), "columns": []any{"v"}}, flow.BuildEnv{}, nil)
	if err != nil || sc.NumFields() != 1 || sc.Field(0).Type.ID() != arrow.FLOAT64 {
		t.Errorf("schema %v, %v", sc, err)
	}
	if _, err := readSchema(flow.Config{"path": filepath.Join(dir, "*.parquet"), "columns": []any{"vv"}}, flow.BuildEnv{}, nil); err == nil {
		t.Error("schema: unknown column accepted")
	}
}

func TestPartitionBy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	root := filepath.Join(t.TempDir(), "out")
	in := `{"region":"eu","y":2024,"n":1}
{"region":"us","y":2024,"n":2}
{"region":"eu","y":2025,"n":3}
{"region":null,"y":2024,"n":4}
{"region":"a/b","y":2024,"n":5}
{"region":"eu","y":2024,"n":6}
`
	writeFile(t, mem, map[string]any{"path": root, "partition_by": []any{"region", "y"}}, in, 4)
	var files []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	want := []string{
		"region=__HIVE_DEFAULT_PARTITION__/y=2024/part-0.parquet",
		"region=a%2Fb/y=2024/part-0.parquet",
		"region=eu/y=2024/part-0.parquet",
		"region=eu/y=2025/part-0.parquet",
		"region=us/y=2024/part-0.parquet",
	}
	if strings.Join(files, "\n") != strings.Join(want, "\n") {
		t.Fatalf("files:\n%s", strings.Join(files, "\n"))
	}
	got, _ := readAll(t, mem, map[string]any{"path": filepath.Join(root, "region=eu", "y=2024", "part-0.parquet")})
	if got != "{\"n\":1}\n{\"n\":6}\n" {
		t.Fatalf("eu/2024: %s", got)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, cfg := range []flow.Config{
		{"compression": "zstd", "row_group_size": int64(10)},
		{"compression": "zstd", "row_group_size": int64(10), "partition_by": []any{"k"}},
	} {
		dir := t.TempDir()
		cfg["path"] = filepath.Join(dir, "t.parquet")
		op, err := newWriter(cfg, flow.BuildEnv{Alloc: mem})
		if err != nil {
			t.Fatal(err)
		}
		w := op.(*writer)
		b, err := batch.FromNDJSON(mem, "{\"k\":1,\"v\":\"a\"}\n{\"k\":2,\"v\":\"b\"}", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(context.Background(), nil, b); err != nil {
			t.Fatal(err)
		}
		b.Release()
		w.Abort()
		var left []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				left = append(left, p)
			}
			return nil
		})
		if len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{"plain-1.5": "plain-1.5", "a/b=c": "a%2Fb%3Dc", "": HiveNull, "x y": "x y", "50%": "50%25"} {
		if got := escape(in); got != want {
			t.Errorf("%q: %q want %q", in, got, want)
		}
	}
}

// encoding = "compatible" writes no BYTE_STREAM_SPLIT column; "auto" uses it
// for an ascending id column. Both read back the same rows.
func TestEncodingCompatible(t *testing.T) {
	var rows strings.Builder
	for i := range 100 {
		fmt.Fprintf(&rows, "{\"id\":%d,\"c\":\"x\"}\n", i)
	}
	for _, mode := range []string{"auto", "compatible"} {
		t.Run(mode, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			p := filepath.Join(t.TempDir(), "x.parquet")
			writeFile(t, mem, map[string]any{"path": p, "encoding": mode}, rows.String(), 100)
			rdr, err := file.OpenParquetFile(p, false)
			if err != nil {
				t.Fatal(err)
			}
			defer rdr.Close()
			cc, err := rdr.MetaData().RowGroup(0).ColumnChunk(0)
			if err != nil {
				t.Fatal(err)
			}
			split := slices.Contains(cc.Encodings(), pq.Encodings.ByteStreamSplit)
			if split != (mode == "auto") {
				t.Fatalf("encodings %v", cc.Encodings())
			}
			if got, _ := readAll(t, mem, map[string]any{"path": p}); got != rows.String() {
				t.Fatalf("read back:\n%s", got)
			}
		})
	}
}
