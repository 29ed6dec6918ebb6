package expr

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

const benchRows = 64 * 1024

func benchBatch(mem memory.Allocator) arrow.RecordBatch {
	r := rand.New(rand.NewPCG(1, 2))
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "price", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "tax", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "amount", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	price := array.NewFloat64Builder(mem)
	qty := array.NewInt64Builder(mem)
	tax := array.NewFloat64Builder(mem)
	amount := array.NewInt64Builder(mem)
	country := array.NewStringBuilder(mem)
	countries := []string{"US", "CA", "FR", "DE", "GB", "JP", "BR", "IN"}
	for k := 0; k < benchRows; k++ {
		price.Append(r.Float64() * 100)
		qty.Append(r.Int64N(20))
		tax.Append(0.2)
		if k%50 == 0 {
			amount.AppendNull()
		} else {
			amount.Append(r.Int64N(40))
		}
		country.Append(countries[r.IntN(len(countries))])
	}
	cols := []arrow.Array{price.NewArray(), qty.NewArray(), tax.NewArray(), amount.NewArray(), country.NewArray()}
	for _, b := range []array.Builder{price, qty, tax, amount, country} {
		b.Release()
	}
	rb := array.NewRecordBatch(schema, cols, benchRows)
	for _, c := range cols {
		c.Release()
	}
	return rb
}

func reportPerRow(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
}

func BenchmarkEvalArith(b *testing.B) {
	mem := memory.NewGoAllocator()
	rb := benchBatch(mem)
	defer rb.Release()
	p, err := Compile("price * qty * (1 + tax)", rb.Schema())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		arr, err := p.Eval(mem, rb)
		if err != nil {
			b.Fatal(err)
		}
		arr.Release()
	}
	reportPerRow(b)
}

func benchSelect(b *testing.B, src string) {
	mem := memory.NewGoAllocator()
	rb := benchBatch(mem)
	defer rb.Release()
	p, err := Compile(src, rb.Schema())
	if err != nil {
		b.Fatal(err)
	}
	out := make([]byte, (benchRows+7)/8)
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Select(mem, rb, out); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRow(b)
}

func BenchmarkSelectCompare(b *testing.B) {
	benchSelect(b, "amount > 10 and country in ('US', 'CA')")
}

func BenchmarkSelectIntCompare(b *testing.B) { benchSelect(b, "amount > 10") }

func BenchmarkSelectStringEq(b *testing.B) { benchSelect(b, "country = 'US'") }

func BenchmarkEvalIntArith(b *testing.B) {
	mem := memory.NewGoAllocator()
	rb := benchBatch(mem)
	defer rb.Release()
	p, err := Compile("amount * qty + 1", rb.Schema())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		arr, err := p.Eval(mem, rb)
		if err != nil {
			b.Fatal(err)
		}
		arr.Release()
	}
	reportPerRow(b)
}

func BenchmarkEvalString(b *testing.B) {
	mem := memory.NewGoAllocator()
	rb := benchBatch(mem)
	defer rb.Release()
	p, err := Compile("concat(lower(country), '-', string(qty))", rb.Schema())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		arr, err := p.Eval(mem, rb)
		if err != nil {
			b.Fatal(err)
		}
		arr.Release()
	}
	reportPerRow(b)
}
