package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/operators"
)

func TestJSONExtractExamples(t *testing.T) { spectest.RunAll(t, JSONExtractSpec()) }

var docSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "doc", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// refLookup follows path (a list of keys and ints) in a fully decoded
// document: the independent reference.
func refLookup(doc any, path []any) (any, bool) {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := doc.(map[string]any)
			if !ok {
				return nil, false
			}
			if doc, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			a, ok := doc.([]any)
			if !ok {
				return nil, false
			}
			if k < 0 {
				k += len(a)
			}
			if k < 0 || k >= len(a) {
				return nil, false
			}
			doc = a[k]
		}
	}
	return doc, true
}

func randomDoc(rng *rand.Rand, depth int) any {
	switch r := rng.IntN(10); {
	case depth > 2 || r < 3:
		switch rng.IntN(6) {
		case 0:
			return json.Number(fmt.Sprint(rng.IntN(1000) - 500))
		case 1:
			return json.Number(fmt.Sprintf("%d.5", rng.IntN(100)))
		case 2:
			return []string{"plain", "é ü 日本", "with \"quotes\"", "tab\tnew\nline", "42", ""}[rng.IntN(6)]
		case 3:
			return rng.IntN(2) == 0
		case 4:
			return nil
		}
		return "2024-05-0" + fmt.Sprint(1+rng.IntN(9)) + "T10:00:00Z"
	case r < 6:
		n := rng.IntN(4)
		a := make([]any, n)
		for i := range a {
			a[i] = randomDoc(rng, depth+1)
		}
		return a
	}
	m := map[string]any{}
	for _, k := range []string{"a", "b", "c", "ké y"} {
		if rng.IntN(2) == 0 {
			m[k] = randomDoc(rng, depth+1)
		}
	}
	return m
}

func TestJSONExtractAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var rows []map[string]any
	var docs []any
	for i := range 600 {
		var text any
		var doc any
		switch rng.IntN(20) {
		case 0:
			text = nil
		case 1:
			text = `{"a": [1, 2,}` // invalid
		case 2:
			text = "not json"
		default:
			doc = randomDoc(rng, 0)
			js, _ := json.Marshal(doc)
			if rng.IntN(3) == 0 {
				var buf bytes.Buffer
				_ = json.Indent(&buf, js, "", "  ")
				js = []byte(buf.String())
			}
			text = string(js)
		}
		rows = append(rows, map[string]any{"id": int64(i), "doc": text})
		docs = append(docs, doc)
	}
	paths := []struct {
		text string
		ref  []any
	}{
		{"$.a", []any{"a"}},
		{"a.b", []any{"a", "b"}},
		{"$.a[0]", []any{"a", 0}},
		{"$.b[-1].c", []any{"b", -1, "c"}},
		{"$['ké y']", []any{"ké y"}},
		{"a.1", []any{"a", 1}},
		{"$", nil},
		{"$[1].a", []any{1, "a"}},
	}
	for _, p := range paths {
		for _, typ := range []string{"string", "json", "int", "float", "bool"} {
			t.Run(p.text+"/"+typ, func(t *testing.T) {
				mem := newMem(t)
				in := split(t, mem, docSchema, rows, 50, 1, 0, 250)
				res, err := run(JSONExtractSpec(), mem, map[string]any{"column": "doc", "path": p.text, "output_column": "out", "type": typ}, flow.StrategyContinue, in...)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Release()
				got := rowsOf(res.Output)
				reasons, _ := errorRows(res)
				k, rej := 0, 0
				for i, r := range rows {
					var want any
					valid := true
					if r["doc"] != nil {
						var doc any
						dec := json.NewDecoder(strings.NewReader(r["doc"].(string)))
						dec.UseNumber()
						if err := dec.Decode(&doc); err != nil || dec.More() {
							valid = false
						} else if v, ok := refLookup(doc, p.ref); ok && v != nil {
							want, valid = refConvert(v, typ)
						}
					}
					if !valid {
						if rej >= len(reasons) {
							t.Fatalf("row %d (%v) not rejected", i, r["doc"])
						}
						rej++
						continue
					}
					if k >= len(got) {
						t.Fatalf("missing output row for %d", i)
					}
					g := got[k]
					k++
					if g["id"] != r["id"] {
						t.Fatalf("row %d: got id %v (doc %v)", i, g["id"], r["doc"])
					}
					gv := g["out"]
					if typ == "json" && gv != nil {
						gv = canonJSON(string(gv.(json.RawMessage)))
					}
					if s, ok := gv.(string); ok && typ == "string" && (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) {
						if strings.ContainsAny(s, " \n") && !strings.Contains(s, `"`) {
							t.Fatalf("not compact: %q", s)
						}
						gv = canonJSON(s)
					}
					if !sameValue(want, gv) {
						t.Fatalf("row %d: %s of %v = %#v, want %#v", i, p.text, r["doc"], gv, want)
					}
				}
				if k != len(got) || rej != len(reasons) {
					t.Fatalf("%d rows out (%d expected), %d rejected (%d expected)", len(got), k, len(reasons), rej)
				}
			})
		}
	}
}

func canonJSON(s string) string {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return "invalid: " + s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func refConvert(v any, typ string) (any, bool) {
	switch typ {
	case "string":
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return string(x), true
		case bool:
			return fmt.Sprint(x), true
		}
		b, _ := json.Marshal(v)
		return canonJSON(string(b)), true
	case "json":
		b, _ := json.Marshal(v)
		return canonJSON(string(b)), true
	case "int":
		var s string
		switch x := v.(type) {
		case json.Number:
			s = string(x)
		case string:
			s = x
		default:
			return nil, false
		}
		return refInt(s, -1<<63, 1<<63-1)
	case "float":
		switch x := v.(type) {
		case json.Number:
			return refFloat(string(x), false)
		case string:
			return refFloat(x, false)
		}
		return nil, false
	case "bool":
		switch x := v.(type) {
		case bool:
			return x, true
		case string:
			return refBool(x)
		}
		return nil, false
	}
	return nil, false
}

func TestJSONExtractCanonicalStringOutput(t *testing.T) {
	// Objects and arrays come out as written in the input; compare them
	// canonically here, the rest exactly.
	mem := newMem(t)
	rows := []map[string]any{
		{"id": int64(1), "doc": `{"a": {"x": [1, 2]}, "a": "last wins"}`},
		{"id": int64(2), "doc": `{"a": "esc\u00e9\"q\""}`},
		{"id": int64(3), "doc": ` [ ] `},
	}
	res, err := run(JSONExtractSpec(), mem, map[string]any{"column": "doc", "path": "a"}, "", build(t, mem, docSchema, rows))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	want := "{\"id\":1,\"doc\":\"last wins\"}\n{\"id\":2,\"doc\":\"escé\\\"q\\\"\"}\n{\"id\":3,\"doc\":null}\n"
	if got := batch.ToNDJSON(res.Output...); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestJSONExtractErrors(t *testing.T) {
	spec := JSONExtractSpec()
	for _, bad := range []string{"$.a[", "$.a[x]", "$..", "$['a"} {
		if _, errs := flow.CheckConfig(spec, map[string]any{"column": "doc", "path": bad}); len(errs) == 0 {
			t.Errorf("path %q accepted", bad)
		}
	}
	cfg, errs := flow.CheckConfig(spec, map[string]any{"column": "dco", "path": "a"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var ue *operators.UnknownColumnError
	if _, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{docSchema}); !errors.As(err, &ue) || ue.Suggestion != "doc" {
		t.Fatalf("err = %v", err)
	}
	cfg, _ = flow.CheckConfig(spec, map[string]any{"column": "id", "path": "a"})
	if _, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{docSchema}); !errors.Is(err, operators.ErrTypeMismatch) {
		t.Fatalf("err = %v", err)
	}
	cfg, _ = flow.CheckConfig(spec, map[string]any{"column": "doc", "path": "a", "output_column": "x", "type": "int"})
	out, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{docSchema})
	if err != nil || out.NumFields() != 3 || out.Field(2).Type.ID() != arrow.INT64 {
		t.Fatalf("schema %v, %v", out, err)
	}
	// Invalid JSON under the stop strategy stops the run with the reason.
	mem := newMem(t)
	_, err = run(spec, mem, map[string]any{"column": "doc", "path": "a"}, "", build(t, mem, docSchema, []map[string]any{{"id": int64(1), "doc": "{"}}))
	if !errors.Is(err, ErrInvalidJSON) || !errors.Is(err, flow.ErrRowRejected) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkJSONExtract(b *testing.B) {
	mem := newMem(b)
	rows := make([]map[string]any, 1<<16)
	for i := range rows {
		rows[i] = map[string]any{"id": int64(i), "doc": fmt.Sprintf(`{"user":{"id":%d,"name":"user %d","tags":["a","b"]},"amount":%d.25,"items":[{"sku":"X%d"}]}`, i, i, i, i)}
	}
	in := build(b, mem, docSchema, rows)
	defer in.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		in.Retain()
		res, err := run(JSONExtractSpec(), mem, map[string]any{"column": "doc", "path": "$.items[0].sku", "output_column": "sku"}, "", in)
		if err != nil {
			b.Fatal(err)
		}
		res.Release()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(rows)), "ns/row")
}

func TestJSONValidatorAgreesWithEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	var v jsonValidator
	fixed := []string{"", " ", "{}", "[]", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "-", "-0", "1.", "1.e5", "1e", "1e+", "0.5E-3",
		"\"\\u12\"", "\"\\u12ab\"", "\"\\x\"", "\"a\nb\"", "tru", "true ", "nul", "[[[]]]", "[[[]]", "{\"a\":[{\"b\":null}]}", "{,}", "[,1]",
		"\"unterminated", "{\"a\":1,}", "1 2", "{\"a\":1}{"}
	check := func(s string) {
		if got, want := v.valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Fatalf("valid(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
	for _, s := range fixed {
		check(s)
	}
	alphabet := []byte("{}[]\":,-+.eE0123456789 \\utrfalsn\n")
	for range 20000 {
		doc, _ := json.Marshal(randomDoc(rng, 0))
		check(string(doc))
		// Mutate: replace, insert or delete a byte.
		b := []byte(string(doc))
		for range 1 + rng.IntN(3) {
			if len(b) == 0 {
				break
			}
			k := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				b[k] = alphabet[rng.IntN(len(alphabet))]
			case 1:
				b = append(b[:k], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[k:]...)...)
			default:
				b = append(b[:k], b[k+1:]...)
			}
		}
		check(string(b))
	}
}
