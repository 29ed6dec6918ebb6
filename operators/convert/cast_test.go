package convert

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/operators"
)

func TestCastExamples(t *testing.T) { spectest.RunAll(t, CastSpec()) }

var textPool = []string{
	"0", "42", "-7", "+3", " 15 ", "\t8", "12.0", "1e3", "1.5", "-0", "abc", "", "٣", "日本",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615",
	"1e300", "NaN", "inf", "true", "FALSE", "yes", "n", "t", "2", "0x10", "1_000", "3.4e39",
	"2024-05-01", "2024-05-01T12:30:00Z", "2024-05-01 12:30:00", "2024-02-30", "2024-05-01T12:30:00.123456+02:00",
	"127", "128", "-129", "255", "256", "65535", "-1", "4294967296",
}

// Reference conversions, written row by row with the standard library.
func refInt(s string, lo int64, hi uint64) (any, bool) {
	s = strings.Trim(s, " \t")
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		if v < lo || (v > 0 && uint64(v) > hi) {
			return nil, false
		}
		return v, true
	}
	if u, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 64); err == nil && !strings.HasPrefix(s, "-") {
		if u > hi {
			return nil, false
		}
		return u, true
	}
	if strings.ContainsAny(s, "xX_pP") {
		return nil, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 || f < float64(lo) || f > float64(hi) {
		return nil, false
	}
	return int64(f), true
}

func refFloat(s string, f32 bool) (any, bool) {
	s = strings.Trim(s, " \t")
	if strings.ContainsAny(s, "xX_pP") || s == "" {
		return nil, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, false
	}
	if f32 {
		if math.Abs(f) > math.MaxFloat32 && !math.IsInf(f, 0) {
			return nil, false
		}
		return float64(float32(f)), true
	}
	return f, true
}

func refBool(s string) (any, bool) {
	switch strings.ToLower(strings.Trim(s, " \t")) {
	case "true", "t", "yes", "y", "1":
		return true, true
	case "false", "f", "no", "n", "0":
		return false, true
	}
	return nil, false
}

func refTimestamp(s string) (any, bool) {
	s = strings.Trim(s, " \t")
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.999999Z07:00"), true
		}
	}
	return nil, false
}

func normTS(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return v
	}
	return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case float64:
		if y, ok := b.(float64); ok {
			return x == y || (math.IsNaN(x) && math.IsNaN(y))
		}
		if s, ok := b.(string); ok { // NaN and ±Inf come back as strings
			return (math.IsNaN(x) && s == "NaN") || (math.IsInf(x, 1) && s == "+Inf") || (math.IsInf(x, -1) && s == "-Inf")
		}
	case uint64:
		if y, ok := b.(int64); ok {
			return y >= 0 && uint64(y) == x
		}
	case int64:
		if y, ok := b.(uint64); ok {
			return x >= 0 && uint64(x) == y
		}
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func randomTexts(rng *rand.Rand, n int) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		var v any
		switch {
		case rng.IntN(10) == 0:
			v = nil
		case rng.IntN(3) == 0:
			v = strconv.FormatInt(rng.Int64N(2_000_000)-1_000_000, 10)
		default:
			v = textPool[rng.IntN(len(textPool))]
		}
		rows[i] = map[string]any{"id": int64(i), "s": v}
	}
	return rows
}

var textSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func TestCastFromStringAgainstReference(t *testing.T) {
	cases := []struct {
		typ string
		ref func(string) (any, bool)
	}{
		{"int", func(s string) (any, bool) { return refInt(s, math.MinInt64, math.MaxInt64) }},
		{"int8", func(s string) (any, bool) { return refInt(s, math.MinInt8, math.MaxInt8) }},
		{"int32", func(s string) (any, bool) { return refInt(s, math.MinInt32, math.MaxInt32) }},
		{"uint8", func(s string) (any, bool) { return refInt(s, 0, math.MaxUint8) }},
		{"uint64", func(s string) (any, bool) { return refInt(s, 0, math.MaxUint64) }},
		{"float", func(s string) (any, bool) { return refFloat(s, false) }},
		{"float32", func(s string) (any, bool) { return refFloat(s, true) }},
		{"bool", refBool},
		{"timestamp", refTimestamp},
		{"string", func(s string) (any, bool) { return s, true }},
	}
	for _, c := range cases {
		for _, mode := range []string{"null", "dead_letter"} {
			t.Run(c.typ+"/"+mode, func(t *testing.T) {
				mem := newMem(t)
				rows := randomTexts(rand.New(rand.NewPCG(1, 2)), 700)
				in := split(t, mem, textSchema, rows, 100, 1, 0, 333, 7)
				strategy := flow.StrategyContinue
				res, err := run(CastSpec(), mem, map[string]any{"types": map[string]any{"s": c.typ}, "on_fail": mode}, strategy, in...)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Release()
				for _, b := range res.Output {
					if f := b.Schema().Field(1); f.Name != "s" || !f.Nullable {
						t.Fatalf("field %v", f)
					}
				}
				got := rowsOf(res.Output)
				reasons, _ := errorRows(res)
				k, rejected := 0, 0
				for _, r := range rows {
					var want any
					ok := true
					if r["s"] != nil {
						want, ok = c.ref(r["s"].(string))
					}
					if !ok && mode == "dead_letter" {
						if !strings.Contains(reasons[rejected], `column "s"`) || !strings.Contains(reasons[rejected], strconv.Quote(r["s"].(string))) {
							t.Fatalf("reason %q for %q", reasons[rejected], r["s"])
						}
						rejected++
						continue
					}
					g := got[k]
					k++
					if g["id"] != r["id"] {
						t.Fatalf("row order: got id %v want %v", g["id"], r["id"])
					}
					gv := g["s"]
					if c.typ == "timestamp" {
						gv = normTS(gv)
					}
					if !sameValue(want, gv) {
						t.Fatalf("%s(%q) = %v (%T), want %v (%T)", c.typ, r["s"], gv, gv, want, want)
					}
				}
				if k != len(got) || rejected != len(reasons) {
					t.Fatalf("%d rows (%d checked), %d rejected (%d expected)", len(got), k, len(reasons), rejected)
				}
			})
		}
	}
}

func TestCastNumeric(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	ints := []int64{0, 1, -1, 127, 128, -128, -129, 255, 256, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64, 1 << 53, 1<<53 + 1}
	floats := []float64{0, 1, -1, 0.5, -2.5, 127, 128, 1e18, 9.3e18, -9.3e18, math.NaN(), math.Inf(1), math.Inf(-1), 1e-7, 1e21, 3.4e39, math.MaxInt64, 255}
	var rows []map[string]any
	for range 500 {
		r := map[string]any{}
		if rng.IntN(8) > 0 {
			r["i"] = ints[rng.IntN(len(ints))]
		}
		if rng.IntN(8) > 0 {
			r["f"] = floats[rng.IntN(len(floats))]
		}
		if rng.IntN(8) > 0 {
			r["u"] = []uint64{0, 1, 255, 256, math.MaxInt64, math.MaxUint64}[rng.IntN(6)]
		}
		if rng.IntN(8) > 0 {
			r["b"] = rng.IntN(2) == 0
		}
		rows = append(rows, r)
	}
	inRange := func(lo, hi float64) func(x float64) bool { return func(x float64) bool { return x >= lo && x <= hi } }
	type ref func(v any) (any, bool)
	toIntRef := func(lo int64, hi uint64) ref {
		return func(v any) (any, bool) {
			switch x := v.(type) {
			case int64:
				if x < lo || (x > 0 && uint64(x) > hi) {
					return nil, false
				}
				return x, true
			case uint64:
				return x, x <= hi
			case float64:
				// Go's big-number comparison through exact float bounds.
				if x != math.Trunc(x) || x < float64(lo) || x >= float64(hi)+1 {
					return nil, false
				}
				if x < 0 {
					return int64(x), true
				}
				return uint64(x), true
			case bool:
				if x {
					return int64(1), true
				}
				return int64(0), true
			}
			return nil, false
		}
	}
	_ = inRange
	cases := []struct {
		col, typ string
		ref      ref
	}{
		{"i", "int8", toIntRef(math.MinInt8, math.MaxInt8)},
		{"i", "uint16", toIntRef(0, math.MaxUint16)},
		{"i", "uint64", toIntRef(0, math.MaxUint64)},
		{"f", "int", toIntRef(math.MinInt64, math.MaxInt64)},
		{"f", "uint8", toIntRef(0, math.MaxUint8)},
		{"u", "int", toIntRef(math.MinInt64, math.MaxInt64)},
		{"u", "int32", toIntRef(math.MinInt32, math.MaxInt32)},
		{"b", "int", toIntRef(math.MinInt64, math.MaxInt64)},
		{"i", "float", func(v any) (any, bool) { return float64(v.(int64)), true }},
		{"u", "float", func(v any) (any, bool) { return float64(v.(uint64)), true }},
		{"f", "float32", func(v any) (any, bool) {
			x := v.(float64)
			if math.Abs(x) > math.MaxFloat32 && !math.IsInf(x, 0) {
				return nil, false
			}
			return float64(float32(x)), true
		}},
		{"i", "bool", func(v any) (any, bool) {
			switch v.(int64) {
			case 0:
				return false, true
			case 1:
				return true, true
			}
			return nil, false
		}},
		{"i", "string", func(v any) (any, bool) { return strconv.FormatInt(v.(int64), 10), true }},
		{"u", "string", func(v any) (any, bool) { return strconv.FormatUint(v.(uint64), 10), true }},
		{"f", "string", func(v any) (any, bool) {
			x := v.(float64)
			switch {
			case math.IsNaN(x):
				return "NaN", true
			case math.IsInf(x, 1):
				return "+Inf", true
			case math.IsInf(x, -1):
				return "-Inf", true
			case x != 0 && (math.Abs(x) < 1e-6 || math.Abs(x) >= 1e21):
				return strconv.FormatFloat(x, 'g', -1, 64), true
			}
			return strconv.FormatFloat(x, 'f', -1, 64), true
		}},
		{"b", "string", func(v any) (any, bool) { return strconv.FormatBool(v.(bool)), true }},
	}
	for _, c := range cases {
		t.Run(c.col+"→"+c.typ, func(t *testing.T) {
			mem := newMem(t)
			in := split(t, mem, schema, rows, 64, 3, 200)
			res, err := run(CastSpec(), mem, map[string]any{"types": map[string]any{c.col: c.typ}, "on_fail": "null"}, "", in...)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			got := rowsOf(res.Output)
			if len(got) != len(rows) {
				t.Fatalf("%d rows, want %d", len(got), len(rows))
			}
			// The source values, read back through the input schema.
			srcRows := rows
			for i, r := range srcRows {
				var want any
				if v := r[c.col]; v != nil {
					var ok bool
					if want, ok = c.ref(v); !ok {
						want = nil
					}
				}
				if !sameValue(want, got[i][c.col]) {
					t.Fatalf("row %d: %v → %v, want %v", i, r[c.col], got[i][c.col], want)
				}
			}
		})
	}
}

func TestCastTemporal(t *testing.T) {
	mem := newMem(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "ts", Type: batch.Timestamp, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "ms", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	}, nil)
	rows := []map[string]any{
		{"ts": "2024-05-01T23:59:59.5Z", "d": "2024-02-29", "ms": "1969-12-31T23:59:59.999Z"},
		{"ts": nil, "d": nil, "ms": nil},
		{"ts": "1960-01-01T00:00:00Z", "d": "1970-01-01", "ms": "2024-05-01T00:00:00Z"},
	}
	in := build(t, mem, schema, rows)
	res, err := run(CastSpec(), mem, map[string]any{"types": map[string]any{"ts": "date", "d": "timestamp", "ms": "timestamp"}}, "", in)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	want := "{\"ts\":\"2024-05-01\",\"d\":\"2024-02-29T00:00:00Z\",\"ms\":\"1969-12-31T23:59:59.999Z\"}\n" +
		"{\"ts\":null,\"d\":null,\"ms\":null}\n" +
		"{\"ts\":\"1960-01-01\",\"d\":\"1970-01-01T00:00:00Z\",\"ms\":\"2024-05-01T00:00:00Z\"}\n"
	if got := batch.ToNDJSON(res.Output...); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	res2, err := run(CastSpec(), mem, map[string]any{"types": map[string]any{"ts": "string", "d": "string"}}, "", build(t, mem, schema, rows))
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Release()
	want2 := "{\"ts\":\"2024-05-01T23:59:59.500Z\",\"d\":\"2024-02-29\",\"ms\":\"1969-12-31T23:59:59.999Z\"}\n"
	if got := batch.ToNDJSON(res2.Output...); !strings.HasPrefix(got, want2) {
		t.Fatalf("got\n%s\nwant prefix\n%s", got, want2)
	}
}

func TestCastOnFailError(t *testing.T) {
	mem := newMem(t)
	rows := []map[string]any{{"id": int64(0), "s": "1"}, {"id": int64(1), "s": "2"}, {"id": int64(2), "s": "x̌yz"}}
	in := split(t, mem, textSchema, rows, 2)
	_, err := run(CastSpec(), mem, map[string]any{"types": map[string]any{"s": "int"}}, "", in...)
	if err == nil {
		t.Fatal("no error")
	}
	for _, frag := range []string{"cast.apply", "row 2", `column "s"`, `"x̌yz"`, "int64"} {
		if !strings.Contains(err.Error(), frag) {
			t.Errorf("error %q lacks %q", err, frag)
		}
	}
	if !errors.Is(err, batch.ErrTypeMismatch) {
		t.Errorf("error does not wrap ErrTypeMismatch: %v", err)
	}
}

func TestCastDeadLetterUnderStop(t *testing.T) {
	// on_fail = "dead_letter" keeps going even under on_error = "stop".
	mem := newMem(t)
	rows := []map[string]any{{"id": int64(0), "s": "1"}, {"id": int64(1), "s": "nope"}}
	res, err := run(CastSpec(), mem, map[string]any{"types": map[string]any{"s": "int"}, "on_fail": "dead_letter"}, "", build(t, mem, textSchema, rows))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	errs := res.Ports[flow.PortErrors]
	if len(errs) != 1 || errs[0].NumRows() != 1 || !strings.Contains(batch.ToNDJSON(errs...), `nope`) {
		t.Fatalf("rejections %v", batch.ToNDJSON(errs...))
	}
	if n := outRows(res); n != 1 {
		t.Errorf("%d rows out, want 1", n)
	}
}

func TestCastSeveralColumnsDeadLetterReasons(t *testing.T) {
	mem := newMem(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rows := []map[string]any{{"a": "1", "b": "x"}, {"a": "y", "b": "z"}, {"a": "3", "b": "1.5"}}
	res, err := run(CastSpec(), mem, map[string]any{"types": map[string]any{"a": "int", "b": "float"}, "on_fail": "dead_letter"}, flow.StrategyContinue, build(t, mem, schema, rows))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	reasons, rrows := errorRows(res)
	if len(reasons) != 2 || !strings.Contains(reasons[1], `column "a"`) || !strings.Contains(reasons[1], `column "b"`) || !strings.Contains(reasons[1], "; ") {
		t.Fatalf("reasons %q", reasons)
	}
	if !strings.Contains(rrows[1], `"y"`) {
		t.Fatalf("rejected row %q", rrows[1])
	}
	if got := batch.ToNDJSON(res.Output...); got != "{\"a\":3,\"b\":1.5}\n" {
		t.Fatalf("output %s", got)
	}
}

func TestCastEmptyAndPassThrough(t *testing.T) {
	mem := newMem(t)
	res, err := run(CastSpec(), mem, map[string]any{"types": map[string]any{"s": "string"}}, "", build(t, mem, textSchema, nil), build(t, mem, textSchema, []map[string]any{{"id": int64(1), "s": "é"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if got := batch.ToNDJSON(res.Output...); got != "{\"id\":1,\"s\":\"é\"}\n" {
		t.Fatalf("got %s", got)
	}
}

func TestCastSchema(t *testing.T) {
	spec := CastSpec()
	in := []*arrow.Schema{textSchema}
	cfg := func(types map[string]any) flow.Config {
		c, errs := flow.CheckConfig(spec, map[string]any{"types": types})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return c
	}
	out, err := spec.Schema(cfg(map[string]any{"s": "int", "id": "string"}), flow.BuildEnv{}, in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Field(0).Type.ID() != arrow.STRING || out.Field(1).Type.ID() != arrow.INT64 {
		t.Fatalf("schema %s", out)
	}
	_, err = spec.Schema(cfg(map[string]any{"ss": "int"}), flow.BuildEnv{}, in)
	var pe *flow.ParamError
	var ue *operators.UnknownColumnError
	if !errors.As(err, &pe) || pe.Key != "types" || !errors.As(err, &ue) || ue.Suggestion != "s" {
		t.Fatalf("err = %v", err)
	}
	boolSchema := []*arrow.Schema{arrow.NewSchema([]arrow.Field{{Name: "b", Type: arrow.FixedWidthTypes.Boolean}}, nil)}
	if _, err := spec.Schema(cfg(map[string]any{"b": "timestamp"}), flow.BuildEnv{}, boolSchema); !errors.Is(err, batch.ErrUnsupportedType) {
		t.Fatalf("bool→timestamp: %v", err)
	}
	if _, errs := flow.CheckConfig(spec, map[string]any{"types": map[string]any{"s": "decimal"}}); len(errs) == 0 || !strings.Contains(errs[0].Error(), "decimal") {
		t.Fatalf("unknown type accepted: %v", errs)
	}
	// The same checks happen at run time.
	mem := newMem(t)
	_, err = run(spec, mem, map[string]any{"types": map[string]any{"sx": "int"}}, "", build(t, mem, textSchema, nil))
	if !errors.As(err, &ue) {
		t.Fatalf("run: %v", err)
	}
}

func BenchmarkCastStringToInt(b *testing.B) {
	const n = 1 << 20
	mem := memory.NewGoAllocator()
	sb := array.NewStringBuilder(mem)
	rng := rand.New(rand.NewPCG(1, 1))
	for range n {
		sb.Append(strconv.FormatInt(rng.Int64N(10_000_000), 10))
	}
	arr := sb.NewArray()
	defer arr.Release()
	k, _ := CastKernel(arr.DataType(), arrow.PrimitiveTypes.Int64)
	b.SetBytes(int64(len(arr.(*array.String).ValueBytes())))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out, fails := k(mem, arr)
		if len(fails) > 0 {
			b.Fatal(fails)
		}
		out.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/row")
}

func outRows(res *flow.IsolatedResult) int64 {
	var n int64
	for _, b := range res.Output {
		n += b.NumRows()
	}
	return n
}
