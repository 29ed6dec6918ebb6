package batch

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestUnifyAndProject(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	a, err := FromNDJSON(mem, `{"id":1,"v":2,"s":"x","t":"2024-01-01T00:00:00Z"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	b, err := FromNDJSON(mem, `{"id":2,"v":2.5,"s":true,"extra":"e"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	u := Unify(a.Schema(), b.Schema())
	want := []struct {
		name string
		id   arrow.Type
	}{{"id", arrow.INT64}, {"v", arrow.FLOAT64}, {"s", arrow.STRING}, {"t", arrow.TIMESTAMP}, {"extra", arrow.STRING}}
	if u.NumFields() != len(want) {
		t.Fatalf("unified %s", u)
	}
	for i, w := range want {
		if f := u.Field(i); f.Name != w.name || f.Type.ID() != w.id || !f.Nullable {
			t.Errorf("field %d: %v", i, f)
		}
	}
	pa, err := Project(mem, a, u)
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Release()
	pb, err := Project(mem, b, u)
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Release()
	got := ToNDJSON(pa, pb)
	exp := `{"id":1,"v":2,"s":"x","t":"2024-01-01T00:00:00Z","extra":null}
{"id":2,"v":2.5,"s":"true","t":null,"extra":"e"}
`
	if got != exp {
		t.Fatalf("got\n%s", got)
	}
	// Same schema: passthrough.
	same, err := Project(mem, pa, u)
	if err != nil {
		t.Fatal(err)
	}
	if same != pa {
		t.Error("Project with equal schema should return the batch itself")
	}
	same.Release()
}

func TestWidenType(t *testing.T) {
	i32, i64, f64, str := arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64, arrow.BinaryTypes.String
	tsS := &arrow.TimestampType{Unit: arrow.Second}
	cases := []struct{ a, b, want arrow.DataType }{
		{i32, i64, i64}, {i64, f64, f64}, {f64, arrow.PrimitiveTypes.Float32, f64}, {i64, str, str},
		{arrow.FixedWidthTypes.Boolean, i64, str}, {tsS, Timestamp, Timestamp}, {arrow.FixedWidthTypes.Date32, tsS, Timestamp},
		{arrow.Null, i32, i32}, {i32, i32, i32},
	}
	for _, c := range cases {
		if got := WidenType(c.a, c.b); !arrow.TypeEqual(got, c.want) {
			t.Errorf("%s+%s = %s, want %s", c.a, c.b, got, c.want)
		}
	}
}

func TestCastFailure(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, err := FromNDJSON(mem, `{"v":1.5}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if _, err := Cast(mem, rec.Column(0), arrow.PrimitiveTypes.Int64); err == nil {
		t.Fatal("1.5 cast to int64 should fail")
	}
}
