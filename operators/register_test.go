package operators

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
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
// one batch.
func ndjsonBatch(t *testing.T, mem memory.Allocator, text string) arrow.RecordBatch {
	t.Helper()
	var names []string
	types := map[string]arrow.DataType{}
	var rows []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		row := map[string]any{}
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("ndjson %q: %v", line, err)
		}
		// Key order as written.
		kd := json.NewDecoder(strings.NewReader(line))
		kd.Token()
		for kd.More() {
			tok, _ := kd.Token()
			k := tok.(string)
			var skip json.RawMessage
			kd.Decode(&skip)
			if _, ok := types[k]; !ok {
				names = append(names, k)
				types[k] = arrow.Null
			}
			var dt arrow.DataType
			switch v := row[k].(type) {
			case json.Number:
				dt = arrow.PrimitiveTypes.Int64
				if strings.ContainsAny(v.String(), ".eE") {
					dt = arrow.PrimitiveTypes.Float64
				}
			case string:
				dt = arrow.BinaryTypes.String
			case bool:
				dt = arrow.FixedWidthTypes.Boolean
			}
			switch {
			case dt == nil:
			case types[k] == arrow.Null || (types[k].ID() == arrow.INT64 && dt.ID() == arrow.FLOAT64):
				types[k] = dt
			}
		}
		rows = append(rows, row)
	}
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: types[n], Nullable: true}
	}
	schema := arrow.NewSchema(fields, nil)
	var grid [][]any
	for _, r := range rows {
		g := make([]any, len(names))
		for i, n := range names {
			switch v := r[n].(type) {
			case json.Number:
				if types[n].ID() == arrow.INT64 {
					x, _ := v.Int64()
					g[i] = int(x)
				} else {
					g[i], _ = v.Float64()
				}
			default:
				g[i] = v
			}
		}
		grid = append(grid, g)
	}
	return build(t, mem, schema, grid...)
}

// ndjsonRows decodes NDJSON into rows keyed by name, numbers as float64,
// with each row's keys in order.
func ndjsonRows(t *testing.T, text string) (rows []map[string]any, keys [][]string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var row map[string]any
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		kd := json.NewDecoder(strings.NewReader(line))
		kd.Token()
		var ks []string
		for kd.More() {
			tok, _ := kd.Token()
			ks = append(ks, tok.(string))
			var skip json.RawMessage
			kd.Decode(&skip)
		}
		rows, keys = append(rows, row), append(keys, ks)
	}
	return rows, keys
}

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
		for _, ex := range spec.Examples {
			t.Run(name+"/"+ex.Title, func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				var cfg map[string]any
				if _, err := toml.Decode(ex.Config, &cfg); err != nil {
					t.Fatalf("config: %v", err)
				}
				in := ndjsonBatch(t, mem, ex.Input)
				res, err := run(spec, mem, cfg, in)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Release()
				var got strings.Builder
				for _, b := range res.Output {
					js, err := b.MarshalJSON()
					if err != nil {
						t.Fatal(err)
					}
					var objs []json.RawMessage
					if err := json.Unmarshal(js, &objs); err != nil {
						t.Fatal(err)
					}
					for _, o := range objs {
						got.Write(o)
						got.WriteByte('\n')
					}
				}
				gotRows, _ := ndjsonRows(t, got.String())
				wantRows, wantKeys := ndjsonRows(t, ex.Output)
				if !reflect.DeepEqual(gotRows, wantRows) {
					t.Fatalf("rows\n got: %v\nwant: %v", gotRows, wantRows)
				}
				var names []string
				if len(res.Output) > 0 {
					for _, f := range res.Output[0].Schema().Fields() {
						names = append(names, f.Name)
					}
				}
				if len(wantKeys) > 0 && !reflect.DeepEqual(names, wantKeys[0]) {
					t.Fatalf("columns %v, want %v", names, wantKeys[0])
				}
			})
		}
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
