package csvconn

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// randFloat returns the kinds of floats the fast paths must get right or
// leave alone: few decimals, many decimals, tiny, huge, special values and
// values beside the thresholds.
func randFloat(r *rand.Rand) float64 {
	var f float64
	switch r.IntN(12) {
	case 0:
		f = float64(r.IntN(1_000_000)) / 100
	case 1:
		f = math.Round(math.Exp(3+r.NormFloat64())*100) / 100
	case 2:
		f = float64(r.Int64N(1e15)) / 1e6
	case 3:
		f = r.Float64()
	case 4:
		f = math.Float64frombits(r.Uint64())
	case 5:
		f = r.Float64() * math.Pow(10, float64(r.IntN(50)-25))
	case 6:
		f = []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1),
			1e-6, 1e-7, 9.99999e-7, 1e21, 1e20, 1e13, 9999999999999.99, 1e9, 999999999.999999,
			0.1, 0.3, 1.0 / 3, 5e-324, math.MaxFloat64, 123456789012.34}[r.IntN(20)]
	case 7:
		f = float64(r.Int64N(1<<53)) / 100
	case 8:
		f = float64(r.Int64N(1e12)) / 1e3
	case 9:
		f = math.Nextafter(float64(r.IntN(100000))/100, math.Inf(1))
	case 10:
		f = float64(r.IntN(1 << 20))
	default:
		f = float64(float32(r.Float64() * 1000))
	}
	if r.IntN(2) == 0 {
		f = -f
	}
	return f
}

func randMicros(r *rand.Rand) int64 {
	switch r.IntN(6) {
	case 0:
		return r.Int64()
	case 1:
		return r.Int64N(1<<45) - 1<<44
	case 2:
		return r.Int64N(1<<42) * 1000
	case 3:
		return r.Int64N(1<<40) * 1_000_000
	case 4:
		return []int64{0, -1, 1, math.MinInt64, math.MaxInt64, -1_000_000, -86_400_000_000, 253402300799999999, 253402300800000000}[r.IntN(9)]
	}
	return 1704067200000000 + r.Int64N(86_400_000_000*3)
}

func TestAppendFloatMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 300_000 {
		f := randFloat(r)
		if got, want := appendFloat(nil, f), batch.AppendFloat(nil, f); !bytes.Equal(got, want) {
			t.Fatalf("appendFloat(%v [%#x]) = %s, want %s", f, math.Float64bits(f), got, want)
		}
	}
}

func TestAppendTimestampMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var dc dayCache
	for range 300_000 {
		us := randMicros(r)
		if got, want := dc.appendTimestamp(nil, us), batch.AppendTimestamp(nil, us); !bytes.Equal(got, want) {
			t.Fatalf("appendTimestamp(%d) = %s, want %s", us, got, want)
		}
		days := int64(int32(us))
		if got, want := dc.appendDate(nil, days), batch.AppendDate(nil, int32(days)); !bytes.Equal(got, want) {
			t.Fatalf("appendDate(%d) = %s, want %s", days, got, want)
		}
	}
}

// allTypesSchema has a column of every type the Encoder formats, plus a
// duration that goes through the generic fallback when asked for.
func allTypesSchema(fallback bool) *arrow.Schema {
	fs := []arrow.Field{
		{Name: "i64", Type: arrow.PrimitiveTypes.Int64},
		{Name: "i32", Type: arrow.PrimitiveTypes.Int32},
		{Name: "i16", Type: arrow.PrimitiveTypes.Int16},
		{Name: "i8", Type: arrow.PrimitiveTypes.Int8},
		{Name: "u64", Type: arrow.PrimitiveTypes.Uint64},
		{Name: "u32", Type: arrow.PrimitiveTypes.Uint32},
		{Name: "u16", Type: arrow.PrimitiveTypes.Uint16},
		{Name: "u8", Type: arrow.PrimitiveTypes.Uint8},
		{Name: "f64", Type: arrow.PrimitiveTypes.Float64},
		{Name: "f32", Type: arrow.PrimitiveTypes.Float32},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "s", Type: arrow.BinaryTypes.String},
		{Name: "ls", Type: arrow.BinaryTypes.LargeString},
		{Name: "bin", Type: arrow.BinaryTypes.Binary},
		{Name: "ts_s", Type: &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}},
		{Name: "ts_ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Name: "ts_us", Type: batch.Timestamp},
		{Name: "ts_ns", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}},
		{Name: "d32", Type: arrow.FixedWidthTypes.Date32},
		{Name: "d64", Type: arrow.FixedWidthTypes.Date64},
		{Name: "with \"quote\", comma", Type: arrow.PrimitiveTypes.Int64},
	}
	if fallback {
		fs = append(fs, arrow.Field{Name: "dur", Type: arrow.FixedWidthTypes.Duration_ms})
	}
	for i := range fs {
		fs[i].Nullable = true
	}
	return arrow.NewSchema(fs, nil)
}

var textPieces = []string{"a", "b", "xyz", ",", ";", "|", "\t", " ", "\"", "\n", "\r", "é", "US", "electronics", ""}

func randText(r *rand.Rand) string {
	var s string
	for range r.IntN(5) {
		s += textPieces[r.IntN(len(textPieces))]
	}
	return s
}

// randomBatch builds rows random rows of schema, about one value in nulls
// being null (none when nulls is 0).
func randomBatch(mem memory.Allocator, r *rand.Rand, schema *arrow.Schema, rows, nulls int) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, fb := range b.Fields() {
		for range rows {
			if nulls > 0 && r.IntN(nulls) == 0 {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				fb.Append(r.Int64() >> r.IntN(64))
			case *array.Int32Builder:
				fb.Append(int32(r.Uint32()))
			case *array.Int16Builder:
				fb.Append(int16(r.Uint32()))
			case *array.Int8Builder:
				fb.Append(int8(r.Uint32()))
			case *array.Uint64Builder:
				fb.Append(r.Uint64() >> r.IntN(64))
			case *array.Uint32Builder:
				fb.Append(r.Uint32())
			case *array.Uint16Builder:
				fb.Append(uint16(r.Uint32()))
			case *array.Uint8Builder:
				fb.Append(uint8(r.Uint32()))
			case *array.Float64Builder:
				fb.Append(randFloat(r))
			case *array.Float32Builder:
				fb.Append(float32(randFloat(r)))
			case *array.BooleanBuilder:
				fb.Append(r.IntN(2) == 0)
			case *array.StringBuilder:
				fb.Append(randText(r))
			case *array.LargeStringBuilder:
				fb.Append(randText(r))
			case *array.BinaryBuilder:
				fb.Append([]byte(randText(r)))
			case *array.TimestampBuilder:
				v := randMicros(r)
				switch fb.Type().(*arrow.TimestampType).Unit {
				case arrow.Second:
					v /= 1_000_000
				case arrow.Millisecond:
					v /= 1000
				case arrow.Nanosecond:
					if r.IntN(2) == 0 {
						v = r.Int64()
					} else {
						v = r.Int64N(1<<60) / 1000 * 1000
					}
				}
				fb.Append(arrow.Timestamp(v))
			case *array.Date32Builder:
				fb.Append(arrow.Date32(int32(r.IntN(2_000_000) - 1_000_000)))
			case *array.Date64Builder:
				fb.Append(arrow.Date64(r.Int64N(1<<45) - 1<<44))
			case *array.DurationBuilder:
				fb.Append(arrow.Duration(r.Int64N(1e9) - 5e8))
			default:
				panic(fmt.Sprintf("no generator for %T", fb))
			}
		}
	}
	return b.NewRecordBatch()
}

func encodeAll(t *testing.T, recs []arrow.RecordBatch, opts WriteOptions, minChunk int) (got, want []byte) {
	t.Helper()
	var gb, wb bytes.Buffer
	enc, ref := NewEncoder(&gb, opts), newRefEncoder(&wb, opts)
	enc.minChunk = minChunk
	for _, rec := range recs {
		if err := enc.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := ref.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := ref.Flush(); err != nil {
		t.Fatal(err)
	}
	return gb.Bytes(), wb.Bytes()
}

// firstDiff describes where two outputs part.
func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-80)
	return fmt.Sprintf("at byte %d:\n got %q\nwant %q", i, got[lo:min(len(got), i+80)], want[lo:min(len(want), i+80)])
}

// TestEncoderMatchesReference writes random batches with nulls, whole and
// sliced, with the new and the old encoder, under several delimiters,
// header settings and goroutine counts, with ranges of 50 rows and up.
func TestEncoderMatchesReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(5, 6))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 3} {
		runtime.GOMAXPROCS(procs)
		for _, fallback := range []bool{false, true} {
			schema := allTypesSchema(fallback)
			var recs []arrow.RecordBatch
			for _, rows := range []int{0, 1, 37, 1000} {
				for _, nulls := range []int{0, 7} {
					recs = append(recs, randomBatch(mem, r, schema, rows, nulls))
				}
			}
			big := recs[len(recs)-1]
			recs = append(recs, big.NewSlice(3, 517), big.NewSlice(401, big.NumRows()))
			for _, opts := range []WriteOptions{
				{Header: true, Delimiter: ','},
				{Header: false, Delimiter: ','},
				{Header: true, Delimiter: ';'},
				{Header: false, Delimiter: '\t'},
			} {
				got, want := encodeAll(t, recs, opts, 50)
				if !bytes.Equal(got, want) {
					t.Errorf("procs=%d fallback=%v %+v: output differs %s", procs, fallback, opts, firstDiff(got, want))
				}
			}
			for _, rec := range recs {
				rec.Release()
			}
		}
	}
}

// TestSinkCompressionMatchesReference runs csv.write with gzip and zstd,
// header on and off and a custom delimiter, and compares the decompressed
// file with the old encoder's output.
func TestSinkCompressionMatchesReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(7, 8))
	schema := allTypesSchema(false)
	recs := []arrow.RecordBatch{
		randomBatch(mem, r, schema, 2*encMinChunk+3, 5),
		randomBatch(mem, r, schema, 10, 5),
	}
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	dir := t.TempDir()
	for i, tc := range []struct {
		file  string
		cfg   map[string]any
		codec fileio.Compression
		opts  WriteOptions
	}{
		{"a.csv.gz", nil, fileio.Gzip, WriteOptions{Header: true, Delimiter: ','}},
		{"b.csv.zst", map[string]any{"has_headers": false}, fileio.Zstd, WriteOptions{Delimiter: ','}},
		{"c.csv", map[string]any{"delimiter": ";"}, "", WriteOptions{Header: true, Delimiter: ';'}},
		{"d.csv.gz", map[string]any{"delimiter": "\t", "has_headers": false}, fileio.Gzip, WriteOptions{Delimiter: '\t'}},
	} {
		raw := map[string]any{"path": tc.file}
		for k, v := range tc.cfg {
			raw[k] = v
		}
		spec := WriteSpec()
		cfg, errs := flow.CheckConfig(spec, raw)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		op, err := spec.New(cfg, flow.BuildEnv{BaseDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		s := op.(flow.Sink)
		for _, rec := range recs {
			if err := s.Write(context.Background(), nil, rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		f, err := fileio.Open(filepath.Join(dir, tc.file), tc.codec)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var wb bytes.Buffer
		ref := newRefEncoder(&wb, tc.opts)
		for _, rec := range recs {
			if err := ref.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := ref.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wb.Bytes()) {
			t.Errorf("case %d (%s): output differs %s", i, tc.file, firstDiff(got, wb.Bytes()))
		}
	}
}

func TestAppendIntMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	vals := []int64{0, 1, -1, 9, 10, 99, 100, -100, 999, 1000, math.MaxInt64, math.MinInt64, math.MinInt64 + 1}
	for range 100_000 {
		vals = append(vals[:13], r.Int64()>>r.IntN(64))
		for _, v := range vals {
			if got, want := appendInt([]byte("x"), v), strconv.AppendInt([]byte("x"), v, 10); !bytes.Equal(got, want) {
				t.Fatalf("appendInt(%d) = %s, want %s", v, got, want)
			}
			if got, want := appendUint(nil, uint64(v)), strconv.AppendUint(nil, uint64(v), 10); !bytes.Equal(got, want) {
				t.Fatalf("appendUint(%d) = %s, want %s", uint64(v), got, want)
			}
		}
	}
	for i := range pow10 {
		for _, u := range []uint64{pow10[i] - 1, pow10[i], pow10[i] + 1, math.MaxUint64} {
			if got, want := appendUint(nil, u), strconv.AppendUint(nil, u, 10); !bytes.Equal(got, want) {
				t.Fatalf("appendUint(%d) = %s, want %s", u, got, want)
			}
		}
	}
}
