package rowkey

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func benchInsert(b *testing.B, cols [][]arrow.Array) {
	var types []arrow.DataType
	for _, c := range cols[0] {
		types = append(types, c.DataType())
	}
	rows := 0
	for _, c := range cols {
		rows += c[0].Len()
	}
	ids := make([]int32, cols[0][0].Len())
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tab, _ := New(memory.DefaultAllocator, types)
		for _, c := range cols {
			if err := tab.Insert(c, ids); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}

func BenchmarkInsert(b *testing.B) {
	const batch, nb = 65536, 16
	mem := memory.DefaultAllocator
	r := rand.New(rand.NewPCG(1, 2))
	for _, groups := range []int{10, 10_000, 1_000_000} {
		var cols [][]arrow.Array
		for range nb {
			ib := array.NewInt64Builder(mem)
			for range batch {
				ib.Append(int64(r.IntN(groups)) * 7919)
			}
			cols = append(cols, []arrow.Array{ib.NewArray()})
			ib.Release()
		}
		b.Run(fmt.Sprintf("int64/%d", groups), func(b *testing.B) { benchInsert(b, cols) })
	}
	countries := []string{"US", "FR", "DE", "JP", "BR", "IN", "CN", "GB", "IT", "ES", "CA", "MX", "KR", "AU", "NL", "SE", "CH", "PL", "BE", "AT"}
	cats := []string{"electronics", "books", "garden", "toys", "sports", "grocery", "fashion", "beauty", "automotive", "music"}
	var cols [][]arrow.Array
	for range nb {
		c1, c2 := array.NewStringBuilder(mem), array.NewStringBuilder(mem)
		for range batch {
			c1.Append(countries[r.IntN(len(countries))])
			c2.Append(cats[r.IntN(len(cats))])
		}
		cols = append(cols, []arrow.Array{c1.NewArray(), c2.NewArray()})
		c1.Release()
		c2.Release()
	}
	b.Run("string,string/200", func(b *testing.B) { benchInsert(b, cols) })
}
