package parquet

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/conveyor-etl/conveyor/flow"
)

// flatBatch holds n rows of every type colWriter writes, every third row
// null in the nullable columns, and an ascending timestamp (so the
// BYTE_STREAM_SPLIT path is taken).
func flatBatch(mem memory.Allocator, start, n int) arrow.RecordBatch {
	md := arrow.NewMetadata([]string{"k"}, []string{"v"})
	tsType := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "Europe/Paris"}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16, Nullable: true},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString, Nullable: true},
		{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "d32", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "t64", Type: arrow.FixedWidthTypes.Time64us, Nullable: true},
		{Name: "ts", Type: tsType, Nullable: true},
		{Name: "seq", Type: arrow.PrimitiveTypes.Int64, Nullable: false},
	}, &md)
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	for r := start; r < start+n; r++ {
		for c, f := range schema.Fields() {
			bld := rb.Field(c)
			if f.Nullable && r%3 == 1 {
				bld.AppendNull()
				continue
			}
			switch x := bld.(type) {
			case *array.BooleanBuilder:
				x.Append(r%2 == 0)
			case *array.Int8Builder:
				x.Append(int8(r))
			case *array.Int16Builder:
				x.Append(int16(r))
			case *array.Int32Builder:
				x.Append(int32(r * 7))
			case *array.Int64Builder:
				x.Append(int64(r) * 1e9)
			case *array.Uint8Builder:
				x.Append(uint8(r))
			case *array.Uint16Builder:
				x.Append(uint16(r))
			case *array.Uint32Builder:
				x.Append(uint32(r))
			case *array.Uint64Builder:
				x.Append(uint64(r) << 40)
			case *array.Float32Builder:
				x.Append(float32(r) / 4)
			case *array.Float64Builder:
				x.Append(float64(r) / 3)
			case *array.StringBuilder:
				x.Append([]string{"eu", "us", "ç\"x", ""}[r%4])
			case *array.LargeStringBuilder:
				x.Append(string(rune('a' + r%26)))
			case *array.BinaryBuilder:
				x.Append([]byte{byte(r), 0, byte(r >> 8)})
			case *array.Date32Builder:
				x.Append(arrow.Date32(r))
			case *array.Time64Builder:
				x.Append(arrow.Time64(r * 1000))
			case *array.TimestampBuilder:
				x.Append(arrow.Timestamp(1_700_000_000_000 + int64(r)*13))
			}
		}
	}
	return rb.NewRecordBatch()
}

// TestParallelRoundTrip writes every flat type, with nulls, through the
// parallel column writer over several row groups (row groups that split
// batches), and reads the file back with pqarrow: schema (time zone and
// metadata included) and values must equal the input.
func TestParallelRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	p := filepath.Join(t.TempDir(), "flat.parquet")
	var in []arrow.RecordBatch
	total := 0
	for _, n := range []int{1000, 37, 2500, 1} {
		in = append(in, flatBatch(mem, total, n))
		total += n
	}
	if !isFlat(in[0].Schema()) {
		t.Fatal("schema not flat")
	}
	want := flatBatch(mem, 0, total)
	defer want.Release()
	res, err := flow.RunIsolated(context.Background(), WriteSpec(), map[string]any{"path": p, "row_group_size": int64(700)}, flow.BuildEnv{Alloc: mem}, "", in)
	if err != nil {
		t.Fatal(err)
	}
	res.Release()

	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rdr, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Close()
	if got, wantRG := rdr.NumRowGroups(), (total+699)/700; got != wantRG {
		t.Fatalf("%d row groups, want %d", got, wantRG)
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	// (pqarrow adds PARQUET:field_id metadata to each field on read.)
	for i, f := range want.Schema().Fields() {
		g := tbl.Schema().Field(i)
		if g.Name != f.Name || !arrow.TypeEqual(g.Type, f.Type) || g.Nullable != f.Nullable {
			t.Errorf("field %d: %s, want %s", i, g, f)
		}
	}
	if v := rdr.MetaData().KeyValueMetadata().FindValue("k"); v == nil || *v != "v" {
		t.Errorf("schema metadata not in the file's key/value metadata")
	}
	if rdr.MetaData().KeyValueMetadata().FindValue("ARROW:schema") == nil {
		t.Errorf("Arrow schema not stored")
	}
	tr := array.NewTableReader(tbl, int64(total))
	defer tr.Release()
	if !tr.Next() {
		t.Fatal("no rows read")
	}
	got := tr.RecordBatch()
	if !array.RecordEqual(got, want) {
		for c := 0; c < int(want.NumCols()); c++ {
			if !array.Equal(got.Column(c), want.Column(c)) {
				t.Errorf("column %s differs", want.Schema().Field(c).Name)
			}
		}
		t.Fatal("values differ")
	}
}

func TestIsFlat(t *testing.T) {
	if isFlat(arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil)) {
		t.Fatal("list is not flat")
	}
}
