package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
)

func TestSmoke(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b, err := batch.FromRows(mem, schema, []map[string]any{
		{"amount": 5.0, "qty": 2, "country": "US"},
		{"amount": 50.0, "qty": nil, "country": "CA"},
		{"amount": nil, "qty": 9223372036854775807, "country": "FR"},
		{"amount": 1000.0, "qty": 0, "country": nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	for _, src := range []string{
		"amount > 10 and country in ('US', 'CA')",
		"qty * 2", "qty + 1", "10 / qty", "qty % 0", "amount * qty",
		"country = 'US' or amount >= 1000", "not (amount > 10)", "qty is null",
		"if(amount > 10, 'big', 'small')", "coalesce(amount, 0)", "qty between 1 and 5",
		"case when qty > 1 then 'x' when qty = 0 then 'zero' end",
		"string(qty)", "int('12')", "-qty", "country like 'U%'",
	} {
		p, err := Compile(src, schema)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		arr, err := p.Eval(mem, b)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s => %v (%s)", src, arr, p.Type())
		arr.Release()
	}
	for _, src := range []string{"amout > 1", "country = 1", "amount > (1", "lowr(country)"} {
		_, err := Compile(src, schema)
		t.Logf("%s: %v", src, err)
	}
}
