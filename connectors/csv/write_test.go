package csvconn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

func sampleBatch(mem memory.Allocator) arrow.RecordBatch {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: batch.Timestamp, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1704067200123000, 1704067200000000}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 0}, []bool{true, false})
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{12.5, 1e-9}, nil)
	b.Field(3).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	b.Field(4).(*array.StringBuilder).AppendValues([]string{"a,b", "say \"hi\"\nbye"}, nil)
	return b.NewRecordBatch()
}

func TestEncoder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := sampleBatch(mem)
	defer rec.Release()
	var buf bytes.Buffer
	enc := NewEncoder(&buf, WriteOptions{Header: true, Delimiter: ','})
	if err := enc.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "ts,n,f,b,s\n2024-01-01T00:00:00.123Z,1,12.5,true,\"a,b\"\n2024-01-01T00:00:00Z,,1e-09,false,\"say \"\"hi\"\"\nbye\"\n"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}
}

// TestWriteAtomic: Abort leaves nothing; Close commits the file.
func TestWriteAtomic(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	spec := WriteSpec()
	cfg, errs := flow.CheckConfig(spec, map[string]any{"path": "out.csv.gz"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	rec := sampleBatch(mem)
	defer rec.Release()
	for _, commit := range []bool{false, true} {
		op, err := spec.New(cfg, flow.BuildEnv{BaseDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		s := op.(flow.Sink)
		if err := s.Write(context.Background(), nil, rec); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := s.Close(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		} else {
			s.Abort()
		}
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		want := []string(nil)
		if commit {
			want = []string{"out.csv.gz"}
		}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("commit=%v: dir holds %v, want %v", commit, names, want)
		}
	}
}

// TestRoundTrip reads a file, writes it, reads it back.
func TestRoundTrip(t *testing.T) {
	text := "ts,n,f,b,s\n2024-01-01T00:00:00.123Z,1,12.5,true,\"a,b\"\n2024-01-01T00:00:00Z,,0.1,false,\"say \"\"hi\"\"\nbye\"\n"
	first, err := read(t, ReadSpec(), map[string][]byte{"a.csv": []byte(text)}, map[string]any{"path": "a.csv"}, "")
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte(text), 0o644)
	env := flow.BuildEnv{Alloc: mem, BaseDir: dir}
	res, err := flow.RunIsolated(context.Background(), ReadSpec(), map[string]any{"path": "a.csv"}, env, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flow.RunIsolated(context.Background(), WriteSpec(), map[string]any{"path": "b.csv.zst"}, env, "", res.Output); err != nil {
		t.Fatal(err)
	}
	second, err := flow.RunIsolated(context.Background(), ReadSpec(), map[string]any{"path": "b.csv.zst"}, env, "")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Release()
	if got := rowsOf(t, second.Output); !reflect.DeepEqual(got, first.rows) {
		t.Errorf("round trip:\n got %v\nwant %v", got, first.rows)
	}
	if s := typesOf(second.Output[0].Schema()); s != typesOf(first.schema) || !strings.Contains(s, "ts:timestamp") {
		t.Errorf("types %s vs %s", s, typesOf(first.schema))
	}
}
