package rowkey

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// refKey renders row i of a as a comparable string, with the package's
// equality rules (NaN == NaN, -0 == 0, null distinct from every value).
func refKey(a arrow.Array, i int) string {
	if d, ok := a.(*array.Dictionary); ok {
		if d.IsNull(i) {
			return "null"
		}
		return refKey(d.Dictionary(), d.GetValueIndex(i))
	}
	if a.IsNull(i) {
		return "null"
	}
	switch x := a.(type) {
	case *array.Float64:
		v := x.Value(i)
		if math.IsNaN(v) {
			return "NaN"
		}
		if v == 0 {
			return "f0"
		}
		return fmt.Sprintf("f%v", v)
	case *array.Float32:
		v := float64(x.Value(i))
		if math.IsNaN(v) {
			return "NaN"
		}
		if v == 0 {
			return "f0"
		}
		return fmt.Sprintf("f%v", v)
	case *array.String:
		return "s" + x.Value(i)
	case *array.LargeString:
		return "s" + x.Value(i)
	}
	return "v" + a.ValueStr(i)
}

func rowRef(cols []arrow.Array, i int) string {
	var sb strings.Builder
	for _, c := range cols {
		sb.WriteString(refKey(c, i))
		sb.WriteByte(0)
	}
	return sb.String()
}

var testWords = []string{"", "a", "b", "FR", "US", "日本", "naïve", "emoji 🎉", "a\x00b", "long string value that is not short at all"}

// genColumn builds a random column of the given kind with about card
// distinct values and some nulls.
func genColumn(mem memory.Allocator, r *rand.Rand, kind string, n, card int) arrow.Array {
	null := func() bool { return r.IntN(10) == 0 }
	switch kind {
	case "int64":
		b := array.NewInt64Builder(mem)
		defer b.Release()
		for range n {
			if null() {
				b.AppendNull()
			} else {
				b.Append(int64(r.IntN(card)) - int64(card/2))
			}
		}
		return b.NewArray()
	case "int32":
		b := array.NewInt32Builder(mem)
		defer b.Release()
		for range n {
			if null() {
				b.AppendNull()
			} else {
				b.Append(int32(r.IntN(card)))
			}
		}
		return b.NewArray()
	case "uint8":
		b := array.NewUint8Builder(mem)
		defer b.Release()
		for range n {
			if null() {
				b.AppendNull()
			} else {
				b.Append(uint8(r.IntN(min(card, 256))))
			}
		}
		return b.NewArray()
	case "float64":
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		for range n {
			switch r.IntN(12) {
			case 0:
				b.AppendNull()
			case 1:
				b.Append(math.NaN())
			case 2:
				b.Append(math.Copysign(0, -1))
			case 3:
				b.Append(0)
			case 4:
				b.Append(math.Float64frombits(0x7ff8000000000abc)) // another NaN
			default:
				b.Append(float64(r.IntN(card)) / 4)
			}
		}
		return b.NewArray()
	case "float32":
		b := array.NewFloat32Builder(mem)
		defer b.Release()
		for range n {
			switch r.IntN(8) {
			case 0:
				b.AppendNull()
			case 1:
				b.Append(float32(math.NaN()))
			case 2:
				b.Append(float32(math.Copysign(0, -1)))
			default:
				b.Append(float32(r.IntN(card)) / 2)
			}
		}
		return b.NewArray()
	case "bool":
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		for range n {
			if null() {
				b.AppendNull()
			} else {
				b.Append(r.IntN(2) == 0)
			}
		}
		return b.NewArray()
	case "string", "large_string":
		var b interface {
			array.Builder
			Append(string)
		}
		if kind == "string" {
			b = array.NewStringBuilder(mem)
		} else {
			b = array.NewLargeStringBuilder(mem)
		}
		defer b.Release()
		for range n {
			if null() {
				b.AppendNull()
			} else {
				w := r.IntN(card)
				b.Append(testWords[w%len(testWords)] + fmt.Sprint(w/len(testWords)))
			}
		}
		return b.NewArray()
	case "timestamp":
		b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
		defer b.Release()
		for range n {
			if null() {
				b.AppendNull()
			} else {
				b.Append(arrow.Timestamp(1_700_000_000_000_000 + int64(r.IntN(card))*1000))
			}
		}
		return b.NewArray()
	case "date32":
		b := array.NewDate32Builder(mem)
		defer b.Release()
		for range n {
			if null() {
				b.AppendNull()
			} else {
				b.Append(arrow.Date32(19000 + r.IntN(card)))
			}
		}
		return b.NewArray()
	case "dict":
		dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
		b := array.NewDictionaryBuilder(mem, dt).(*array.BinaryDictionaryBuilder)
		defer b.Release()
		for range n {
			if null() {
				b.AppendNull()
			} else {
				w := r.IntN(card)
				_ = b.AppendString(testWords[w%len(testWords)] + fmt.Sprint(w/len(testWords)))
			}
		}
		return b.NewArray()
	}
	panic(kind)
}

func checkTable(t *testing.T, mem memory.Allocator, kinds []string, sizes []int, card int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 1))
	var batches [][]arrow.Array
	for _, n := range sizes {
		var cols []arrow.Array
		for _, k := range kinds {
			cols = append(cols, genColumn(mem, r, k, n, card))
		}
		batches = append(batches, cols)
	}
	defer func() {
		for _, cols := range batches {
			for _, c := range cols {
				c.Release()
			}
		}
	}()
	var types []arrow.DataType
	for _, c := range batches[0] {
		types = append(types, c.DataType())
	}
	tab, err := New(mem, types)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Release()
	ref := map[string]int32{}
	var refOrder []string
	for _, cols := range batches {
		n := cols[0].Len()
		ids := make([]int32, n)
		if err := tab.Insert(cols, ids); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			k := rowRef(cols, i)
			want, ok := ref[k]
			if !ok {
				want = int32(len(ref))
				ref[k] = want
				refOrder = append(refOrder, k)
			}
			if ids[i] != want {
				t.Fatalf("%v: row %d key %q: id %d, want %d", kinds, i, k, ids[i], want)
			}
		}
	}
	if tab.Len() != len(ref) {
		t.Fatalf("Len %d, want %d", tab.Len(), len(ref))
	}
	// Lookup finds every key; keys built from the table round-trip.
	keys := tab.Keys(mem)
	defer func() {
		for _, k := range keys {
			k.Release()
		}
	}()
	for g := range tab.Len() {
		if got := rowRef(keys, g); got != refOrder[g] {
			t.Fatalf("Keys row %d = %q, want %q", g, got, refOrder[g])
		}
	}
	ids := make([]int32, tab.Len())
	if err := tab.Lookup(keys, ids); err != nil {
		t.Fatal(err)
	}
	for g, id := range ids {
		if id != int32(g) {
			t.Fatalf("Lookup(Keys row %d) = %d", g, id)
		}
	}
	if tab.Bytes() <= 0 {
		t.Fatal("Bytes")
	}
}

func TestInsertMatchesReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cases := [][]string{
		{"int64"}, {"int32"}, {"uint8"}, {"float64"}, {"float32"}, {"bool"}, {"string"}, {"large_string"},
		{"timestamp"}, {"date32"}, {"dict"},
		{"string", "string"}, {"int64", "string"}, {"string", "float64", "bool"},
		{"dict", "int32", "timestamp", "large_string"},
	}
	for ci, kinds := range cases {
		for _, card := range []int{1, 7, 300, 5000} {
			t.Run(fmt.Sprintf("%v/%d", kinds, card), func(t *testing.T) {
				checkTable(t, mem, kinds, []int{0, 1, 100, 3000, 17}, card, uint64(ci*1000+card))
			})
		}
	}
}

func TestLookupAbsentAndCrossType(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	build := func(vals ...int64) arrow.Array {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.AppendValues(vals, nil)
		return b.NewArray()
	}
	a := build(5, -3, 1<<40)
	defer a.Release()
	tab, err := New(mem, []arrow.DataType{arrow.PrimitiveTypes.Int64})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, 3)
	if err := tab.Insert([]arrow.Array{a}, ids); err != nil {
		t.Fatal(err)
	}
	b32 := array.NewInt32Builder(mem)
	b32.AppendValues([]int32{-3, 7, 5}, nil)
	b32.AppendNull()
	p := b32.NewArray()
	b32.Release()
	defer p.Release()
	got := make([]int32, 4)
	if err := tab.Lookup([]arrow.Array{p}, got); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[1 -1 0 -1]" {
		t.Fatalf("Lookup = %v", got)
	}
	if tab.Len() != 3 {
		t.Fatalf("Lookup changed the table: Len %d", tab.Len())
	}
	sb := array.NewStringBuilder(mem)
	sb.Append("x")
	s := sb.NewArray()
	sb.Release()
	defer s.Release()
	if err := tab.Lookup([]arrow.Array{s}, got); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("string probe of int table: %v", err)
	}
	if _, err := New(mem, []arrow.DataType{arrow.ListOf(arrow.PrimitiveTypes.Int64)}); !errors.Is(err, ErrUnsupportedType) {
		t.Fatalf("list key: %v", err)
	}
}

func TestSlicedInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(9, 9))
	for _, kind := range []string{"int64", "string", "bool", "float64", "dict"} {
		full := genColumn(mem, r, kind, 200, 20)
		sl := array.NewSlice(full, 37, 150)
		tab, _ := New(mem, []arrow.DataType{full.DataType()})
		ids := make([]int32, sl.Len())
		if err := tab.Insert([]arrow.Array{sl}, ids); err != nil {
			t.Fatal(err)
		}
		ref := map[string]int32{}
		for i := range sl.Len() {
			k := refKey(sl, i)
			if _, ok := ref[k]; !ok {
				ref[k] = int32(len(ref))
			}
			if ids[i] != ref[k] {
				t.Fatalf("%s: sliced row %d: id %d want %d", kind, i, ids[i], ref[k])
			}
		}
		sl.Release()
		full.Release()
	}
}
