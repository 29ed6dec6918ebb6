package batch

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func testSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "t", Type: Timestamp, Nullable: true},
	}, nil)
}

func TestBuilderRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b, err := NewBuilder(mem, testSchema())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	rows := []map[string]any{
		{"id": json.Number("1"), "x": json.Number("1.5"), "ok": true, "s": "a\"b\n", "t": "2024-03-01T10:00:00Z"},
		{"id": float64(2), "x": json.Number("2"), "ok": "false", "s": json.Number("7"), "t": "2024-03-02"},
		{"id": nil, "s": map[string]any{"k": []any{json.Number("1")}}},
	}
	for _, r := range rows {
		if err := b.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	// A bad row appends nothing.
	err = b.Append(map[string]any{"id": json.Number("3"), "x": "abc"})
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Column != "x" || !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("want ValueError on x, got %v", err)
	}
	if b.Len() != 3 {
		t.Fatalf("len %d", b.Len())
	}
	rec := b.NewBatch()
	defer rec.Release()
	got := ToNDJSON(rec)
	want := `{"id":1,"x":1.5,"ok":true,"s":"a\"b\n","t":"2024-03-01T10:00:00Z"}
{"id":2,"x":2,"ok":false,"s":"7","t":"2024-03-02T00:00:00Z"}
{"id":null,"x":null,"ok":null,"s":"{\"k\":[1]}","t":null}
`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	r0 := Row(rec, 0)
	if r0["id"] != int64(1) || r0["t"] != "2024-03-01T10:00:00Z" || r0["ok"] != true {
		t.Fatalf("row 0: %#v", r0)
	}
	if Row(rec, 2)["t"] != nil {
		t.Fatal("null timestamp not nil")
	}
}

func TestBuilderRanges(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int8, Nullable: true}}, nil)
	for _, tc := range []struct {
		v  any
		ok bool
	}{{json.Number("127"), true}, {json.Number("128"), false}, {json.Number("1.5"), false}, {"-3", true}, {true, false}, {json.Number("2.0"), true}} {
		rec, err := FromRows(mem, s, []map[string]any{{"a": tc.v}})
		if (err == nil) != tc.ok {
			t.Errorf("%v: err %v", tc.v, err)
		}
		if rec != nil {
			rec.Release()
		}
	}
	if _, err := NewBuilder(mem, arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)}}, nil)); !errors.Is(err, ErrUnsupportedType) {
		t.Fatalf("list type: %v", err)
	}
}

func TestJSONColumnsWrittenNested(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, err := FromNDJSON(mem, `{"a":{"b":[1,2]},"n":null}`+"\n"+`{"a":[true],"n":null}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if !IsJSONField(rec.Schema().Field(0)) {
		t.Fatal("a not marked as JSON")
	}
	want := `{"a":{"b":[1,2]},"n":null}` + "\n" + `{"a":[true],"n":null}` + "\n"
	if got := ToNDJSON(rec); got != want {
		t.Fatalf("got %s", got)
	}
	if _, ok := Row(rec, 0)["a"].(json.RawMessage); !ok {
		t.Fatal("Row of JSON column is not RawMessage")
	}
}

func TestParseObject(t *testing.T) {
	m, keys, err := ParseObject([]byte(` {"z":1,"a":{"q":2},"z":3} `))
	if err != nil || strings.Join(keys, ",") != "z,a" || m["z"] != json.Number("3") {
		t.Fatalf("%v %v %v", m, keys, err)
	}
	for _, bad := range []string{`[1]`, `3`, `{"a":1} x`, `{"a":`, ``, `}`} {
		if _, _, err := ParseObject([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, _, err := ParseObject([]byte(`[1,{"a":[2]}]`)); !errors.Is(err, ErrNotObject) {
		t.Errorf("array: %v", err)
	}
}

func TestFormatValue(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ts := time.Date(2024, 1, 2, 3, 4, 5, 600000000, time.UTC)
	rec, err := FromRows(mem, testSchema(), []map[string]any{
		{"id": json.Number("-4"), "x": 1e21, "ok": false, "s": "hé", "t": ts},
		{},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	want := []string{"-4", "1e+21", "false", "hé", "2024-01-02T03:04:05.600Z"}
	for c := range want {
		if got := FormatValue(rec.Column(c), 0); got != want[c] {
			t.Errorf("col %d: %q want %q", c, got, want[c])
		}
		if got := FormatValue(rec.Column(c), 1); got != NullText {
			t.Errorf("col %d null: %q", c, got)
		}
	}
	d := array.NewDate32Builder(mem)
	d.Append(arrow.Date32FromTime(ts))
	da := d.NewArray()
	d.Release()
	defer da.Release()
	if got := FormatValue(da, 0); got != "2024-01-02" {
		t.Errorf("date: %q", got)
	}
}

func TestAppendJSONStringEscapes(t *testing.T) {
	in := "a\x00\t\u2028\xff\"\\é"
	got := string(appendJSONString(nil, in))
	var back string
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if back != "a\x00\t\u2028\ufffd\"\\é" {
		t.Fatalf("round trip %q", back)
	}
}

func TestParseType(t *testing.T) {
	for name, id := range map[string]arrow.Type{"int": arrow.INT64, "Float": arrow.FLOAT64, "boolean": arrow.BOOL, "str": arrow.STRING, "timestamp": arrow.TIMESTAMP, "date": arrow.DATE32} {
		dt, err := ParseType(name)
		if err != nil || dt.ID() != id {
			t.Errorf("%s: %v %v", name, dt, err)
		}
	}
	if _, err := ParseType("decimal"); !errors.Is(err, ErrUnsupportedType) {
		t.Error(err)
	}
}
