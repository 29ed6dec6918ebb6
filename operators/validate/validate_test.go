package validate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

func TestExamples(t *testing.T) { spectest.RunAll(t, Spec()) }

func newMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

func build(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows []map[string]any) arrow.RecordBatch {
	t.Helper()
	b, err := batch.FromRows(mem, schema, rows)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func split(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows []map[string]any, sizes ...int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for k, i := 0, 0; i < len(rows); k++ {
		end := min(i+sizes[k%len(sizes)], len(rows))
		out = append(out, build(t, mem, schema, rows[i:end]))
		i = end
	}
	return out
}

func run(mem memory.Allocator, cfg map[string]any, strategy flow.Strategy, in ...arrow.RecordBatch) (*flow.IsolatedResult, error) {
	return flow.RunIsolated(context.Background(), Spec(), cfg, flow.BuildEnv{Alloc: mem}, strategy, in)
}

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64},
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "amount", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "day", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: batch.Timestamp, Nullable: true},
}, nil)

var (
	amounts = []any{"12", "-3", " 7 ", "abc", "1.5", "", "12.0", "٣", "99999999999999999999", nil}
	days    = []any{"2024-05-01", "2024-02-30", "2024-05-01T10:00:00Z", "2024-05-01 10:00:00", "May 1", "", "2024-05-01T10:00:00+02:00", nil}
	emails  = []any{"a@x.org", "b@x.org", "ç@ü.de", "日本@例え.jp", nil}
)

func randomRows(rng *rand.Rand, n int) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		r := map[string]any{"k": int64(i)}
		if rng.IntN(10) > 0 {
			r["id"] = rng.Int64N(int64(n))
		}
		r["email"] = emails[rng.IntN(len(emails))]
		if rng.IntN(3) == 0 {
			r["email"] = fmt.Sprintf("u%d@x.org", rng.IntN(n))
		}
		r["amount"] = amounts[rng.IntN(len(amounts))]
		if rng.IntN(6) > 0 {
			r["score"] = []float64{1, 2.5, -0.0, 1e20, 3}[rng.IntN(5)]
		}
		r["day"] = days[rng.IntN(len(days))]
		if rng.IntN(2) == 0 {
			r["ts"] = "2024-05-01T10:00:00Z"
		}
		rows[i] = r
	}
	return rows
}

// Independent reference: row by row over the Go values.
func refIsInt(s string) bool {
	s = strings.Trim(s, " \t")
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return true
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53
}

func refIsDate(s string) bool {
	for _, l := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02"} {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

func refValidate(rows []map[string]any) (valid []int64, reasons []string) {
	seenID, seenEmail := map[int64]bool{}, map[string]bool{}
	for _, r := range rows {
		var why []string
		// non_nullable = ["id", "email"], required_fields = ["email"]:
		// id first (non-nullable), email (required wins).
		if r["id"] == nil {
			why = append(why, "id: null in non-nullable field")
		}
		if r["email"] == nil {
			why = append(why, "email: null in required field")
		}
		// field_types, by column name: amount (int), score (int).
		if a, ok := r["amount"].(string); ok && !refIsInt(a) {
			why = append(why, "amount: not an int: "+strconv.Quote(a))
		}
		if s, ok := r["score"].(float64); ok && (s != math.Trunc(s) || math.Abs(s) >= 1<<63) {
			why = append(why, "score: not an int: "+strconv.FormatFloat(s, 'f', -1, 64))
		}
		if d, ok := r["day"].(string); ok && !refIsDate(d) {
			why = append(why, "day: not a date: "+strconv.Quote(d))
		}
		if len(why) == 0 {
			if id, ok := r["id"].(int64); ok && seenID[id] {
				why = append(why, fmt.Sprintf("id: duplicate value %d", id))
			}
			if e, ok := r["email"].(string); ok && seenEmail[e] {
				why = append(why, fmt.Sprintf("email: duplicate value %q", e))
			}
			if len(why) == 0 {
				if id, ok := r["id"].(int64); ok {
					seenID[id] = true
				}
				if e, ok := r["email"].(string); ok {
					seenEmail[e] = true
				}
			}
		}
		if len(why) > 0 {
			reasons = append(reasons, strings.Join(why, "; "))
		} else {
			valid = append(valid, r["k"].(int64))
		}
	}
	return
}

var fullConfig = map[string]any{
	"required_fields": []any{"email"},
	"non_nullable":    []any{"id", "email"},
	"field_types":     map[string]any{"amount": "int", "score": "int", "ts": "timestamp"},
	"date_fields":     []any{"day", "ts"},
	"unique":          []any{"id", "email"},
}

func withMode(mode string) map[string]any {
	c := map[string]any{"on_invalid": mode}
	for k, v := range fullConfig {
		c[k] = v
	}
	return c
}

func TestValidateAgainstReference(t *testing.T) {
	for seed := range uint64(4) {
		for _, sizes := range [][]int{{1000}, {1}, {7, 100, 1, 250}} {
			t.Run(fmt.Sprintf("seed%d/%v", seed, sizes), func(t *testing.T) {
				rows := randomRows(rand.New(rand.NewPCG(seed, 77)), 400)
				wantValid, wantReasons := refValidate(rows)
				if len(wantValid) == 0 || len(wantReasons) == 0 {
					t.Fatal("degenerate data")
				}
				mem := newMem(t)
				res, err := run(mem, withMode("dead_letter"), flow.StrategyContinue, split(t, mem, testSchema, rows, sizes...)...)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Release()
				var got []int64
				for _, b := range res.Output {
					for _, r := range batch.Rows(b) {
						got = append(got, r["k"].(int64))
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(wantValid) {
					t.Fatalf("valid rows\n%v\nwant\n%v", got, wantValid)
				}
				var reasons []string
				for _, b := range res.Ports[flow.PortErrors] {
					for _, r := range batch.Rows(b) {
						reasons = append(reasons, strings.TrimPrefix(r["error"].(string), "validate.schema: invalid row: "))
					}
				}
				if len(reasons) != len(wantReasons) {
					t.Fatalf("%d rejected, want %d", len(reasons), len(wantReasons))
				}
				for i := range reasons {
					if reasons[i] != wantReasons[i] {
						t.Fatalf("rejection %d: %q\nwant %q", i, reasons[i], wantReasons[i])
					}
				}
				// drop gives the same rows.
				res2, err := run(mem, withMode("drop"), "", split(t, mem, testSchema, rows, sizes...)...)
				if err != nil {
					t.Fatal(err)
				}
				defer res2.Release()
				var n int
				for _, b := range res2.Output {
					n += int(b.NumRows())
				}
				if n != len(wantValid) || len(res2.Ports[flow.PortErrors]) != 0 {
					t.Fatalf("drop kept %d rows, want %d", n, len(wantValid))
				}
			})
		}
	}
}

func TestValidateFail(t *testing.T) {
	mem := newMem(t)
	rows := []map[string]any{
		{"k": int64(0), "id": int64(1), "email": "a@x.org"},
		{"k": int64(1), "id": int64(2), "email": "b@x.org"},
		{"k": int64(2), "id": int64(3), "email": "c@x.org", "amount": "x1"},
	}
	_, err := run(mem, withMode("fail"), "", split(t, mem, testSchema, rows, 2)...)
	if !errors.Is(err, ErrInvalidRow) {
		t.Fatalf("err = %v", err)
	}
	for _, f := range []string{"validate.schema", "row 2", `amount: not an int: "x1"`} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q lacks %q", err, f)
		}
	}
	// dead_letter keeps going even under the stop strategy.
	res, err := run(mem, withMode("dead_letter"), "", split(t, mem, testSchema, rows, 2)...)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if got := batch.ToNDJSON(res.Ports[flow.PortErrors]...); strings.Count(got, "\n") != 1 || !strings.Contains(got, "x1") {
		t.Fatalf("rejections %s", got)
	}
}

func TestValidateUniqueRollback(t *testing.T) {
	// Under on_invalid = fail and the continue strategy, a failing batch
	// is rejected whole: the values of its valid rows must not count.
	mem := newMem(t)
	rows := []map[string]any{
		{"k": int64(0), "id": int64(1), "email": "a"},
		{"k": int64(1), "id": nil, "email": "b"}, // invalid: the batch fails
		{"k": int64(2), "id": int64(1), "email": "a"},
	}
	cfg := map[string]any{"unique": []any{"id", "email"}, "non_nullable": "id"}
	res, err := run(mem, cfg, flow.StrategyContinue, split(t, mem, testSchema, rows, 2)...)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if got := batch.ToNDJSON(res.Output...); !strings.Contains(got, `"k":2`) {
		t.Fatalf("output %s", got)
	}
}

func TestValidateMissingColumns(t *testing.T) {
	mem := newMem(t)
	rows := []map[string]any{{"k": int64(0), "id": int64(1), "email": "é"}, {"k": int64(1)}}
	cfg := map[string]any{"required_fields": []any{"email", "phone"}, "non_nullable": "fax", "on_invalid": "dead_letter"}
	res, err := run(mem, cfg, flow.StrategyContinue, build(t, mem, testSchema, rows))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Output) != 0 {
		t.Fatal("rows passed without a required column")
	}
	var reasons []string
	for _, r := range batch.Rows(res.Ports[flow.PortErrors][0]) {
		reasons = append(reasons, r["error"].(string))
	}
	want := []string{
		"validate.schema: invalid row: fax: missing non-nullable field; phone: missing required field",
		"validate.schema: invalid row: fax: missing non-nullable field; email: null in required field; phone: missing required field",
	}
	if fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Fatalf("reasons\n%q\nwant\n%q", reasons, want)
	}
}

func TestValidateSchemaAndConfig(t *testing.T) {
	spec := Spec()
	var ue *operators.UnknownColumnError
	var pe *flow.ParamError
	for key, cfg := range map[string]flow.Config{
		"field_types": {"field_types": map[string]any{"amout": "int"}},
		"date_fields": {"date_fields": []any{"dya"}},
		"unique":      {"unique": "emial"},
	} {
		_, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{testSchema})
		if !errors.As(err, &ue) || !errors.As(err, &pe) || pe.Key != key || ue.Suggestion == "" {
			t.Fatalf("%s: err = %v", key, err)
		}
	}
	out, err := spec.Schema(flow.Config{"required_fields": "nope"}, flow.BuildEnv{}, []*arrow.Schema{testSchema})
	if err != nil || !out.Equal(testSchema) {
		t.Fatalf("%v %v", out, err)
	}
	if _, errs := flow.CheckConfig(spec, map[string]any{"field_types": map[string]any{"a": "money"}}); len(errs) == 0 {
		t.Fatal("unknown type accepted")
	}
	if _, errs := flow.CheckConfig(spec, map[string]any{"on_invalid": "drop"}); len(errs) == 0 {
		t.Fatal("no rule accepted")
	}
	// Unknown columns are also caught at run time.
	mem := newMem(t)
	if _, err := run(mem, map[string]any{"unique": "idd"}, "", build(t, mem, testSchema, nil)); !errors.As(err, &ue) {
		t.Fatalf("err = %v", err)
	}
}

func TestValidatePassThroughAndDropCount(t *testing.T) {
	mem := newMem(t)
	in := build(t, mem, testSchema, []map[string]any{{"k": int64(0), "id": int64(1), "email": "x"}})
	in.Retain()
	defer in.Release()
	res, err := run(mem, map[string]any{"non_nullable": "id"}, "", in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output) != 1 || res.Output[0] != in {
		t.Fatal("valid batch was copied")
	}
	res.Release()
	// drop logs its count at the end.
	var logged strings.Builder
	env := flow.BuildEnv{Alloc: mem, Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	rows := []map[string]any{{"k": int64(0), "id": nil}, {"k": int64(1), "id": int64(1)}, {"k": int64(2), "id": nil}}
	res, err = flow.RunIsolated(context.Background(), Spec(), map[string]any{"non_nullable": "id", "on_invalid": "drop"}, env, "", []arrow.RecordBatch{build(t, mem, testSchema, rows)})
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	if !strings.Contains(logged.String(), "dropped=2") {
		t.Fatalf("log %q", logged.String())
	}
}

func BenchmarkValidate(b *testing.B) {
	mem := memory.NewGoAllocator()
	rows := randomRows(rand.New(rand.NewPCG(1, 1)), 1<<16)
	for i, r := range rows { // mostly valid rows, as in production
		if i%10 != 0 {
			r["id"], r["amount"], r["day"] = int64(i), strconv.Itoa(i), "2024-05-01"
		}
	}
	in, err := batch.FromRows(mem, testSchema, rows)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Release()
	cfg := map[string]any{"non_nullable": "id", "field_types": map[string]any{"amount": "int"}, "date_fields": "day", "unique": "id", "on_invalid": "drop"}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		in.Retain()
		res, err := run(mem, cfg, "", in)
		if err != nil {
			b.Fatal(err)
		}
		res.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rows)), "ns/row")
}

func TestRegister(t *testing.T) {
	r := flow.NewRegistry()
	Register(r)
	if _, ok := r.Lookup("validate.schema"); !ok {
		t.Fatal("not registered")
	}
}

func TestPredicateCheckHook(t *testing.T) {
	mem := newMem(t)
	in := build(t, mem, testSchema, []map[string]any{{"k": int64(0), "id": int64(5)}, {"k": int64(1), "id": int64(-1)}, {"k": int64(2)}})
	defer in.Release()
	c := predicateCheck{name: "positive_id", fn: func(mem memory.Allocator, b arrow.RecordBatch) (*array.Boolean, error) {
		ids := b.Column(1).(*array.Int64)
		bb := array.NewBooleanBuilder(mem)
		defer bb.Release()
		for i := 0; i < ids.Len(); i++ {
			if ids.IsNull(i) {
				bb.AppendNull()
			} else {
				bb.Append(ids.Value(i) > 0)
			}
		}
		return bb.NewBooleanArray(), nil
	}}
	iss := newIssues(3, true)
	if err := c.eval(mem, in, iss); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(iss.bad) != "[false true true]" || iss.reasons[1][0] != "positive_id: rule failed" {
		t.Fatalf("%v %q", iss.bad, iss.reasons)
	}
}

func TestValidateExprRules(t *testing.T) {
	mem := newMem(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	rows := []map[string]any{
		{"id": int64(1), "email": "a@x.org"},
		{"id": int64(-2), "email": "b@x.org"},
		{"id": int64(3), "email": "nope"},
		{"id": nil, "email": "Zoë@x.org"},
	}
	cfg := map[string]any{
		"rules":          map[string]any{"positive": "id > 0", "email": "contains(email, '@')"},
		"rules\x00order": []string{"positive", "email"},
		"on_invalid":     "dead_letter",
	}
	res, err := flow.RunIsolated(context.Background(), Spec(), cfg, flow.BuildEnv{Alloc: mem}, "", split(t, mem, schema, rows, 3))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if got := batch.ToNDJSON(res.Output...); got != "{\"id\":1,\"email\":\"a@x.org\"}\n" {
		t.Errorf("valid rows %s", got)
	}
	errs := batch.ToNDJSON(res.Ports[flow.PortErrors]...)
	for _, want := range []string{"positive: rule failed", "email: rule failed"} {
		if !strings.Contains(errs, want) {
			t.Errorf("rejections lack %q:\n%s", want, errs)
		}
	}
	if n := strings.Count(errs, "\n"); n != 3 {
		t.Errorf("%d rejections, want 3:\n%s", n, errs)
	}
	// Type errors are reported with the rule's name, before any row.
	_, err = flow.RunIsolated(context.Background(), Spec(), map[string]any{"rules": map[string]any{"r": "email > 3"}}, flow.BuildEnv{Alloc: mem}, "", split(t, mem, schema, rows, 4))
	if err == nil || !strings.Contains(err.Error(), "rules.r") || !strings.Contains(err.Error(), "cannot compare string with int") {
		t.Errorf("type error: %v", err)
	}
	_, err = flow.RunIsolated(context.Background(), Spec(), map[string]any{"rules": map[string]any{"r": "id + 1"}}, flow.BuildEnv{Alloc: mem}, "", split(t, mem, schema, rows, 4))
	if err == nil || !strings.Contains(err.Error(), "not a condition") {
		t.Errorf("non-boolean rule: %v", err)
	}
}
