package expr

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
)

// arrayValues converts an array to Go values: nil, bool, int64, float64,
// string, time.Time (UTC) for timestamps, time.Duration for durations.
func arrayValues(arr arrow.Array) []any {
	out := make([]any, arr.Len())
	for k := range out {
		if arr.IsNull(k) {
			continue
		}
		switch a := arr.(type) {
		case *array.Int64:
			out[k] = a.Value(k)
		case *array.Float64:
			out[k] = a.Value(k)
		case *array.String:
			out[k] = a.Value(k)
		case *array.Boolean:
			out[k] = a.Value(k)
		case *array.Timestamp:
			out[k] = time.UnixMicro(int64(a.Value(k))).UTC()
		case *array.Duration:
			out[k] = time.Duration(a.Value(k)) * time.Microsecond
		}
	}
	return out
}

func sameValue(a, b any) bool {
	fa, ok1 := a.(float64)
	fb, ok2 := b.(float64)
	if ok1 && ok2 {
		return fa == fb || (math.IsNaN(fa) && math.IsNaN(fb)) || math.Abs(fa-fb) <= 1e-12*math.Max(math.Abs(fa), math.Abs(fb))
	}
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return a == b
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// testSchema and testRows: the batch of the table tests.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "j", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "u", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "ts", Type: batch.Timestamp, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Duration_us, Nullable: true},
	{Name: "country code", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "a.b", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

var testRows = []map[string]any{
	{"i": 1, "j": 2, "f": 1.5, "s": "Hello", "u": "Ünïcödé", "b": true, "ts": "2024-01-15T10:30:45Z", "d": int64(90 * 60e6), "country code": "US", "a.b": 10},
	{"i": -7, "j": 0, "f": -2.25, "s": "", "u": "😀x", "b": false, "ts": "1969-12-31T23:59:59.5Z", "d": int64(-1e6), "country code": "CA", "a.b": 20},
	{"i": math.MaxInt64, "j": -1, "f": nil, "s": nil, "u": "a,b,,c", "b": nil, "ts": nil, "d": nil, "country code": nil, "a.b": nil},
	{"i": nil, "j": 3, "f": 0.0, "s": "  pad  ", "u": "ß", "b": true, "ts": "2000-02-29T00:00:00Z", "d": int64(0), "country code": "FR", "a.b": 40},
}

func testBatch(t testing.TB, mem memory.Allocator) arrow.RecordBatch {
	t.Helper()
	// batch.FromRows does not build durations: build that column by hand.
	var fields []arrow.Field
	for _, f := range testSchema.Fields() {
		if f.Name != "d" {
			fields = append(fields, f)
		}
	}
	rb, err := batch.FromRows(mem, arrow.NewSchema(fields, nil), testRows)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Release()
	db := array.NewDurationBuilder(mem, &arrow.DurationType{Unit: arrow.Microsecond})
	defer db.Release()
	for _, r := range testRows {
		if r["d"] == nil {
			db.AppendNull()
		} else {
			db.Append(arrow.Duration(r["d"].(int64)))
		}
	}
	d := db.NewArray()
	defer d.Release()
	cols := make([]arrow.Array, 0, testSchema.NumFields())
	for _, f := range testSchema.Fields() {
		if f.Name == "d" {
			cols = append(cols, d)
		} else {
			cols = append(cols, rb.Column(rb.Schema().FieldIndices(f.Name)[0]))
		}
	}
	return array.NewRecordBatch(testSchema, cols, int64(len(testRows)))
}

// evalValues compiles src against b's schema and evaluates it.
func evalValues(t testing.TB, mem memory.Allocator, src string, b arrow.RecordBatch, opts ...Option) ([]any, arrow.DataType) {
	t.Helper()
	p, err := Compile(src, b.Schema(), opts...)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	arr, err := p.Eval(mem, b)
	if err != nil {
		t.Fatalf("%s: eval: %v", src, err)
	}
	defer arr.Release()
	if arr.Len() != int(b.NumRows()) {
		t.Fatalf("%s: %d rows, want %d", src, arr.Len(), b.NumRows())
	}
	if !arrow.TypeEqual(arr.DataType(), p.Type()) {
		t.Fatalf("%s: array type %s, program type %s", src, arr.DataType(), p.Type())
	}
	vals := arrayValues(arr)
	if p.ResultType() == Bool || p.ResultType() == Null {
		// Select must agree with Eval: bit set exactly where the value is true.
		bits := make([]byte, (len(vals)+7)/8)
		if err := p.Select(mem, b, bits); err != nil {
			t.Fatalf("%s: Select: %v", src, err)
		}
		for k, v := range vals {
			if getBit(bits, k) != (v == true) {
				t.Errorf("%s: Select row %d = %v, Eval gives %v", src, k, getBit(bits, k), v)
			}
		}
	}
	return vals, p.Type()
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
