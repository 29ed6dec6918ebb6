package operators

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
)

// build makes a batch of the given schema from rows of Go values (nil is
// null) with array builders: int64/int32 columns take int, float columns
// float64, strings string, bools bool, timestamps and dates time.Time.
func build(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows ...[]any) arrow.RecordBatch {
	t.Helper()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, row := range rows {
		for i, v := range row {
			fb := b.Field(i)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				fb.Append(int64(v.(int)))
			case *array.Int32Builder:
				fb.Append(int32(v.(int)))
			case *array.Uint8Builder:
				fb.Append(uint8(v.(int)))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.Float32Builder:
				fb.Append(float32(v.(float64)))
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.LargeStringBuilder:
				fb.Append(v.(string))
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			case *array.TimestampBuilder:
				ts, err := arrow.TimestampFromTime(v.(time.Time), schema.Field(i).Type.(*arrow.TimestampType).Unit)
				if err != nil {
					t.Fatal(err)
				}
				fb.Append(ts)
			case *array.Date32Builder:
				fb.Append(arrow.Date32FromTime(v.(time.Time)))
			default:
				t.Fatalf("build: no case for %T", fb)
			}
		}
	}
	return b.NewRecordBatch()
}

// cell reads row i of arr as a Go value (nil for null): integers as int64,
// floats as float64, timestamps and dates as time.Time (UTC).
func cell(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Uint8:
		return int64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Timestamp:
		return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC()
	case *array.Date32:
		return a.Value(i).ToTime().UTC()
	}
	panic(fmt.Sprintf("cell: %T", arr))
}

// rowsOf reads every row of the batches.
func rowsOf(bs []arrow.RecordBatch) [][]any {
	var out [][]any
	for _, b := range bs {
		for i := range int(b.NumRows()) {
			row := make([]any, b.NumCols())
			for c := range row {
				row[c] = cell(b.Column(c), i)
			}
			out = append(out, row)
		}
	}
	return out
}

// run runs spec in isolation on the batches (consumed) with the checked
// allocator mem.
func run(spec *flow.Spec, mem memory.Allocator, cfg map[string]any, batches ...arrow.RecordBatch) (*flow.IsolatedResult, error) {
	return flow.RunIsolated(context.Background(), spec, cfg, flow.BuildEnv{Alloc: mem}, "", batches)
}

// ndjsonBatch infers a schema from NDJSON rows (int64, float64, string,
// bool; first-seen key order; int widened to float when mixed) and builds

// ndjsonRows decodes NDJSON into rows keyed by name, numbers as float64,

func TestSpecExamples(t *testing.T) {
	r := flow.NewRegistry()
	Register(r)
	for _, name := range []string{"filter.apply", "map.apply", "select.apply"} {
		spec, ok := r.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		legacy := "transform." + strings.TrimSuffix(name, ".apply")
		if s, ok := r.Lookup(legacy); !ok || s != spec {
			t.Errorf("legacy alias %s does not resolve to %s", legacy, name)
		}
		if spec.Summary == "" || spec.Description == "" || len(spec.Examples) == 0 {
			t.Errorf("%s: spec lacks summary, description or examples", name)
		}
		for _, p := range spec.Params {
			if p.Doc == "" {
				t.Errorf("%s: parameter %s has no Doc", name, p.Name)
			}
		}
		t.Run(name, func(t *testing.T) { spectest.RunAll(t, spec) })
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	r := flow.NewRegistry()
	Register(r)
	defer func() {
		if recover() == nil {
			t.Fatal("second Register did not panic")
		}
	}()
	Register(r)
}

// wantErr asserts err wraps target and mentions every fragment.
func wantErr(t *testing.T, err, target error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", target)
	}
	if target != nil && !errors.Is(err, target) {
		t.Fatalf("error %q does not wrap %v", err, target)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Fatalf("error %q does not mention %q", err, f)
		}
	}
}

var _ = math.Inf
