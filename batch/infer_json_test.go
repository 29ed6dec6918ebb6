package batch

import (
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestInferJSON(t *testing.T) {
	n := func(s string) json.Number { return json.Number(s) }
	recs := []map[string]any{
		{"i": n("1"), "f": n("1"), "b": true, "s": "x", "t": "2024-01-01T00:00:00Z", "d": "2024-01-01", "o": map[string]any{}, "nul": nil, "mix": n("1"), "bs": true},
		{"i": n("2"), "f": n("2.5"), "b": nil, "s": nil, "t": "2024-01-02 10:00:00", "d": nil, "o": []any{n("1")}, "nul": nil, "mix": "a", "bs": n("1")},
		{"i": float64(3), "f": float64(1.25), "late": "2024-01-01", "mix": map[string]any{}},
	}
	in := NewJSONInferrer()
	for _, r := range recs {
		in.Observe(r)
	}
	s := in.Schema()
	want := map[string]arrow.Type{"i": arrow.INT64, "f": arrow.FLOAT64, "b": arrow.BOOL, "s": arrow.STRING, "t": arrow.TIMESTAMP,
		"d": arrow.TIMESTAMP, "o": arrow.STRING, "nul": arrow.STRING, "mix": arrow.STRING, "bs": arrow.STRING, "late": arrow.TIMESTAMP}
	if s.NumFields() != len(want) {
		t.Fatalf("schema %s", s)
	}
	for name, id := range want {
		idx := s.FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("no %s", name)
		}
		f := s.Field(idx[0])
		if f.Type.ID() != id || !f.Nullable {
			t.Errorf("%s: %s", name, f.Type)
		}
		if IsJSONField(f) != (name == "o") {
			t.Errorf("%s: JSON mark %v", name, IsJSONField(f))
		}
	}
	if ts := s.Field(s.FieldIndices("t")[0]).Type.(*arrow.TimestampType); ts.Unit != arrow.Microsecond || ts.TimeZone != "UTC" {
		t.Errorf("timestamp type %s", ts)
	}
	if in.Rows() != 3 {
		t.Errorf("rows %d", in.Rows())
	}
}

func TestInferJSONKeyOrder(t *testing.T) {
	in := NewJSONInferrer()
	m1, k1, _ := ParseObject([]byte(`{"z":1,"a":2}`))
	m2, k2, _ := ParseObject([]byte(`{"m":1,"z":2}`))
	in.ObserveKeys(m1, k1)
	in.ObserveKeys(m2, k2)
	s := in.Schema()
	got := ""
	for _, f := range s.Fields() {
		got += f.Name
	}
	if got != "zam" {
		t.Fatalf("order %q", got)
	}
}
