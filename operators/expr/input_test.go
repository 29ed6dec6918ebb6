package expr

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// build makes a one-column batch from an array builder callback.
func oneColumn(mem memory.Allocator, name string, dt arrow.DataType, fill func(b array.Builder)) arrow.RecordBatch {
	bld := array.NewBuilder(mem, dt)
	defer bld.Release()
	fill(bld)
	arr := bld.NewArray()
	defer arr.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: name, Type: dt, Nullable: true}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
}

func TestInputTypes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tsUTC := func(s string) time.Time { return ts(s) }
	cases := []struct {
		name string
		dt   arrow.DataType
		fill func(b array.Builder)
		src  string
		want []any
	}{
		{"int8", arrow.PrimitiveTypes.Int8, func(b array.Builder) {
			b.(*array.Int8Builder).AppendValues([]int8{-128, 127, 0}, []bool{true, true, false})
		}, "x * 2", []any{-256, 254, N}},
		{"int16", arrow.PrimitiveTypes.Int16, func(b array.Builder) { b.(*array.Int16Builder).AppendValues([]int16{-5, 300}, nil) }, "x + 1", []any{-4, 301}},
		{"int32", arrow.PrimitiveTypes.Int32, func(b array.Builder) { b.(*array.Int32Builder).AppendValues([]int32{math.MinInt32, 7}, nil) }, "x - 1", []any{int64(math.MinInt32) - 1, 6}},
		{"uint8", arrow.PrimitiveTypes.Uint8, func(b array.Builder) { b.(*array.Uint8Builder).AppendValues([]uint8{255, 0}, nil) }, "x", []any{255, 0}},
		{"uint16", arrow.PrimitiveTypes.Uint16, func(b array.Builder) { b.(*array.Uint16Builder).AppendValues([]uint16{65535}, nil) }, "x", []any{65535}},
		{"uint32", arrow.PrimitiveTypes.Uint32, func(b array.Builder) { b.(*array.Uint32Builder).AppendValues([]uint32{math.MaxUint32}, nil) }, "x", []any{int64(math.MaxUint32)}},
		{"uint64", arrow.PrimitiveTypes.Uint64, func(b array.Builder) {
			b.(*array.Uint64Builder).AppendValues([]uint64{math.MaxInt64, 3, math.MaxUint64}, []bool{true, true, false})
		}, "x", []any{maxI, 3, N}},
		{"float32", arrow.PrimitiveTypes.Float32, func(b array.Builder) { b.(*array.Float32Builder).AppendValues([]float32{1.5, -0.25}, nil) }, "x * 2", []any{3.0, -0.5}},
		{"large_string", arrow.BinaryTypes.LargeString, func(b array.Builder) {
			b.(*array.LargeStringBuilder).AppendValues([]string{"Ünï", "", "x"}, []bool{true, true, false})
		}, "upper(x)", []any{"ÜNÏ", "", N}},
		{"string_view", arrow.BinaryTypes.StringView, func(b array.Builder) {
			b.(*array.StringViewBuilder).AppendValues([]string{"a rather long string value", "ab", ""}, []bool{true, true, false})
		}, "length(x)", []any{26, 2, N}},
		{"binary", arrow.BinaryTypes.Binary, func(b array.Builder) { b.(*array.BinaryBuilder).AppendValues([][]byte{[]byte("ab")}, nil) }, "x = 'ab'", []any{true}},
		{"dictionary", &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, func(b array.Builder) {
			d := b.(*array.BinaryDictionaryBuilder)
			d.AppendString("US")
			d.AppendString("CA")
			d.AppendNull()
			d.AppendString("US")
		}, "x in ('US')", []any{true, false, N, true}},
		{"bool", arrow.FixedWidthTypes.Boolean, func(b array.Builder) {
			b.(*array.BooleanBuilder).AppendValues([]bool{true, false, true}, []bool{true, true, false})
		}, "not x", []any{false, true, N}},
		{"timestamp_s_tz", &arrow.TimestampType{Unit: arrow.Second, TimeZone: "America/New_York"}, func(b array.Builder) {
			b.(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{0, 86400, math.MaxInt64}, nil)
		}, "x", []any{tsUTC("1970-01-01T00:00:00Z"), tsUTC("1970-01-02T00:00:00Z"), N}},
		{"timestamp_ms", arrow.FixedWidthTypes.Timestamp_ms, func(b array.Builder) {
			b.(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1500}, nil)
		}, "x", []any{tsUTC("1970-01-01T00:00:01.5Z")}},
		{"timestamp_ns", arrow.FixedWidthTypes.Timestamp_ns, func(b array.Builder) {
			b.(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{1999, -1}, nil)
		}, "epoch_ms(x) * 0 + second(x)", []any{0, 59}},
		{"date32", arrow.FixedWidthTypes.Date32, func(b array.Builder) {
			b.(*array.Date32Builder).AppendValues([]arrow.Date32{19844, -1}, nil)
		}, "x", []any{tsUTC("2024-05-01T00:00:00Z"), tsUTC("1969-12-31T00:00:00Z")}},
		{"date64", arrow.FixedWidthTypes.Date64, func(b array.Builder) {
			b.(*array.Date64Builder).AppendValues([]arrow.Date64{86_400_000}, nil)
		}, "x > '1970-01-01'", []any{true}},
		{"duration_ns", arrow.FixedWidthTypes.Duration_ns, func(b array.Builder) {
			b.(*array.DurationBuilder).AppendValues([]arrow.Duration{1_500_000_000}, nil)
		}, "x > 1s", []any{true}},
		{"duration_s", arrow.FixedWidthTypes.Duration_s, func(b array.Builder) {
			b.(*array.DurationBuilder).AppendValues([]arrow.Duration{90}, nil)
		}, "x", []any{90 * time.Second}},
		{"null", arrow.Null, func(b array.Builder) { b.AppendNulls(3) }, "coalesce(x, 1) + 1", []any{2, 2, 2}},
		{"null is null", arrow.Null, func(b array.Builder) { b.AppendNulls(2) }, "x is null", []any{true, true}},
	}
	for _, c := range cases {
		b := oneColumn(mem, "x", c.dt, c.fill)
		got, _ := evalValues(t, mem, c.src, b)
		for k := range c.want {
			if !sameValue(got[k], norm(c.want[k])) {
				t.Errorf("%s: %s row %d = %#v, want %#v", c.name, c.src, k, got[k], norm(c.want[k]))
			}
		}
		b.Release()
	}

	// uint64 above the int64 range: an error, not a wrapped number.
	b := oneColumn(mem, "x", arrow.PrimitiveTypes.Uint64, func(b array.Builder) {
		b.(*array.Uint64Builder).AppendValues([]uint64{1, math.MaxInt64 + 1}, nil)
	})
	defer b.Release()
	p, err := Compile("x + 1", b.Schema())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Eval(mem, b); !errors.Is(err, ErrEval) || !strings.Contains(err.Error(), `column "x" row 1`) {
		t.Errorf("uint64 overflow: %v", err)
	}
}

// Sliced inputs: bitmaps and offsets that do not start at 0 or at a byte
// boundary.
func TestSlicedInputs(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	full := testBatch(t, mem)
	defer full.Release()
	for off := 0; off < 4; off++ {
		s := full.NewSlice(int64(off), 4)
		for _, src := range []string{"i + j", "not b", "s = 'Hello' or b", "upper(u)", "i is null", "coalesce(s, u)", "length(s)", "ts > '2000-01-01'"} {
			got, _ := evalValues(t, mem, src, s)
			all, _ := evalValues(t, mem, src, full)
			for k := range got {
				if !sameValue(got[k], all[off+k]) {
					t.Errorf("%s at offset %d: row %d = %v, want %v", src, off, k, got[k], all[off+k])
				}
			}
		}
		s.Release()
	}
}

func TestNowAndEdgeBatches(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	clock := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	b := testBatch(t, mem)
	defer b.Release()
	got, _ := evalValues(t, mem, "now() - ts", b, WithNow(func() time.Time { clock = clock.Add(time.Hour); return clock }))
	if want := 138*24*time.Hour + 2*time.Hour + 29*time.Minute + 15*time.Second; got[0] != want {
		t.Errorf("now() - ts = %v, want %v", got[0], want)
	}
	// Empty and one-row batches, constant and column expressions.
	for _, n := range []int64{0, 1} {
		s := b.NewSlice(0, n)
		for _, src := range []string{"1 + 2", "i + 1", "i > 0 and s = 'Hello'", "upper(s)", "null", "if(b, 'y', 'n')", "coalesce(i, 0)"} {
			got, _ := evalValues(t, mem, src, s)
			if int64(len(got)) != n {
				t.Errorf("%s over %d rows: %d values", src, n, len(got))
			}
		}
		s.Release()
	}
	// A batch with another schema holding the same columns.
	p, err := Compile("i + 1", b.Schema())
	if err != nil {
		t.Fatal(err)
	}
	other := oneColumn(mem, "i", arrow.PrimitiveTypes.Int32, func(bl array.Builder) { bl.(*array.Int32Builder).AppendValues([]int32{41}, nil) })
	defer other.Release()
	arr, err := p.Eval(mem, other)
	if err != nil {
		t.Fatal(err)
	}
	if v := arrayValues(arr); v[0] != int64(42) {
		t.Errorf("other schema: %v", v)
	}
	arr.Release()
	missing := oneColumn(mem, "z", arrow.PrimitiveTypes.Int32, func(bl array.Builder) { bl.(*array.Int32Builder).AppendValues([]int32{1}, nil) })
	defer missing.Release()
	if _, err := p.Eval(mem, missing); !errors.Is(err, ErrUnknownColumn) {
		t.Errorf("missing column: %v", err)
	}
	str := oneColumn(mem, "i", arrow.BinaryTypes.String, func(bl array.Builder) { bl.(*array.StringBuilder).Append("x") })
	defer str.Release()
	if _, err := p.Eval(mem, str); !errors.Is(err, ErrType) {
		t.Errorf("changed type: %v", err)
	}
	// Select on a non-boolean program.
	if err := p.Select(mem, b, make([]byte, 1)); !errors.Is(err, ErrType) {
		t.Errorf("Select of int: %v", err)
	}
}
