// Command rowtools is an example Conveyor WASM plugin: a few vectorized
// transforms written against the guest SDK.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o rowtools.wasm .
package main

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/wasm/guest"
)

func init() {
	guest.Register(guest.Plugin{
		Name:        "rowtools",
		Version:     "1.0.0",
		Description: "Example transforms: a product column, a numeric threshold filter, a pass-through and a row count.",
		Stages: []guest.Stage{
			{
				Name:    "rowtools.multiply",
				Kind:    guest.KindTransform,
				Summary: "Add a column holding the product of two numeric columns.",
				Description: `Computes left * right for every row into output_column (appended, or replaced in
place when it exists). Two integer columns give an integer, null where the product
overflows 64 bits; any float column gives a float. A null operand gives null.`,
				Params: []guest.Param{
					{Name: "left", Type: "str", Required: true, Doc: "First numeric column."},
					{Name: "right", Type: "str", Required: true, Doc: "Second numeric column."},
					{Name: "output_column", Type: "str", Required: true, Doc: "Column receiving the product."},
				},
				Examples: []guest.Example{{
					Title:  "Line total",
					Config: "left = \"price\"\nright = \"qty\"\noutput_column = \"total\"\n",
					Input:  "{\"price\":2.5,\"qty\":3}\n{\"price\":1.25,\"qty\":null}\n",
					Output: "{\"price\":2.5,\"qty\":3,\"total\":7.5}\n{\"price\":1.25,\"qty\":null,\"total\":null}\n",
				}},
				New: newMultiply,
			},
			{
				Name:    "rowtools.at_least",
				Kind:    guest.KindTransform,
				Summary: "Keep the rows whose numeric column is at least a value.",
				Description: `Keeps rows where column >= value. Nulls and NaN never match. When every row
matches the batch passes through unchanged; when none does, nothing is emitted.`,
				Params: []guest.Param{
					{Name: "column", Type: "str", Required: true, Doc: "Numeric column to compare."},
					{Name: "value", Type: "float", Required: true, Doc: "Smallest value kept."},
				},
				Examples: []guest.Example{{
					Title:  "Large orders",
					Config: "column = \"amount\"\nvalue = 100\n",
					Input:  "{\"id\":1,\"amount\":50}\n{\"id\":2,\"amount\":100}\n{\"id\":3,\"amount\":null}\n",
					Output: "{\"id\":2,\"amount\":100}\n",
				}},
				New: newAtLeast,
			},
			{
				Name:        "rowtools.passthrough",
				Kind:        guest.KindTransform,
				Summary:     "Pass every batch through unchanged.",
				Description: "Emits each input batch as it came: a baseline for measuring the cost of crossing into a WASM plugin.",
				Examples: []guest.Example{{
					Title: "Unchanged", Config: "",
					Input:  "{\"a\":1}\n",
					Output: "{\"a\":1}\n",
				}},
				New: guest.Func(func(in arrow.RecordBatch) (arrow.RecordBatch, error) { return in, nil }),
			},
			{
				Name:        "rowtools.count",
				Kind:        guest.KindTransform,
				Summary:     "Count the rows of the whole input.",
				Description: "Emits one row with column `rows` (int) once the input has ended: an example of a stateful plugin stage.",
				Stateful:    true,
				Examples: []guest.Example{{
					Title: "Three rows", Config: "",
					Input:  "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n",
					Output: "{\"rows\":3}\n",
				}},
				New: func(guest.Config) (guest.Processor, error) { return &counter{}, nil },
			},
		},
	})
}

func main() {}

func newMultiply(cfg guest.Config) (guest.Processor, error) {
	left, right, out := cfg.Str("left"), cfg.Str("right"), cfg.Str("output_column")
	return guest.ProcessFunc(func(in arrow.RecordBatch) (arrow.RecordBatch, error) {
		l, err := numericColumn(in, left)
		if err != nil {
			return nil, fmt.Errorf("left: %w", err)
		}
		r, err := numericColumn(in, right)
		if err != nil {
			return nil, fmt.Errorf("right: %w", err)
		}
		prod := multiply(l, r)
		defer prod.Release()
		return withColumn(in, out, prod), nil
	}), nil
}

func numericColumn(b arrow.RecordBatch, name string) (arrow.Array, error) {
	idx := b.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil, fmt.Errorf("no column %q", name)
	}
	col := b.Column(idx[0])
	switch col.DataType().ID() {
	case arrow.INT64, arrow.FLOAT64:
		return col, nil
	}
	return nil, fmt.Errorf("column %q is %s, not int64 or float64", name, col.DataType())
}

func float(a arrow.Array, i int) float64 {
	if c, ok := a.(*array.Int64); ok {
		return float64(c.Value(i))
	}
	return a.(*array.Float64).Value(i)
}

func multiply(l, r arrow.Array) arrow.Array {
	n := l.Len()
	li, lInt := l.(*array.Int64)
	ri, rInt := r.(*array.Int64)
	if lInt && rInt {
		b := array.NewInt64Builder(guest.Allocator)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			x, y := li.Value(i), ri.Value(i)
			hi, lo := bits.Mul64(uint64(x), uint64(y))
			if x < 0 {
				hi -= uint64(y)
			}
			if y < 0 {
				hi -= uint64(x)
			}
			if l.IsNull(i) || r.IsNull(i) || hi != uint64(int64(lo)>>63) {
				b.AppendNull()
				continue
			}
			b.UnsafeAppend(int64(lo))
		}
		return b.NewArray()
	}
	b := array.NewFloat64Builder(guest.Allocator)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if l.IsNull(i) || r.IsNull(i) {
			b.AppendNull()
			continue
		}
		b.UnsafeAppend(float(l, i) * float(r, i))
	}
	return b.NewArray()
}

// withColumn returns b with col added as name (or replacing it).
func withColumn(b arrow.RecordBatch, name string, col arrow.Array) arrow.RecordBatch {
	fields := append([]arrow.Field(nil), b.Schema().Fields()...)
	cols := append([]arrow.Array(nil), b.Columns()...)
	f := arrow.Field{Name: name, Type: col.DataType(), Nullable: true}
	if idx := b.Schema().FieldIndices(name); len(idx) > 0 {
		fields[idx[0]], cols[idx[0]] = f, col
	} else {
		fields, cols = append(fields, f), append(cols, col)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, b.NumRows())
}

func newAtLeast(cfg guest.Config) (guest.Processor, error) {
	column, min := cfg.Str("column"), cfg.Float("value")
	if math.IsNaN(min) {
		return nil, fmt.Errorf("value: NaN matches nothing")
	}
	return guest.ProcessFunc(func(in arrow.RecordBatch) (arrow.RecordBatch, error) {
		col, err := numericColumn(in, column)
		if err != nil {
			return nil, fmt.Errorf("column: %w", err)
		}
		n := col.Len()
		keep := make([]int, 0, n)
		for i := 0; i < n; i++ {
			if col.IsValid(i) && float(col, i) >= min {
				keep = append(keep, i)
			}
		}
		switch len(keep) {
		case n:
			return in, nil
		case 0:
			return nil, nil
		}
		return take(in, keep), nil
	}), nil
}

// take returns the rows of b at the given indices (ascending), copying
// runs of consecutive rows at once.
func take(b arrow.RecordBatch, idx []int) arrow.RecordBatch {
	cols := make([]arrow.Array, b.NumCols())
	for c := range cols {
		var parts []arrow.Array
		for start := 0; start < len(idx); {
			end := start + 1
			for end < len(idx) && idx[end] == idx[end-1]+1 {
				end++
			}
			parts = append(parts, array.NewSlice(b.Column(c), int64(idx[start]), int64(idx[end-1]+1)))
			start = end
		}
		col, err := array.Concatenate(parts, guest.Allocator)
		for _, p := range parts {
			p.Release()
		}
		if err != nil {
			panic(err) // slices of one array always concatenate
		}
		cols[c] = col
	}
	out := array.NewRecordBatch(b.Schema(), cols, int64(len(idx)))
	for _, c := range cols {
		c.Release()
	}
	return out
}

// counter is a stateful stage: it emits at Flush.
type counter struct{ rows int64 }

func (c *counter) Process(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	c.rows += in.NumRows()
	return nil, nil
}

func (c *counter) Flush() (arrow.RecordBatch, error) {
	b := array.NewInt64Builder(guest.Allocator)
	defer b.Release()
	b.Append(c.rows)
	col := b.NewArray()
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "rows", Type: arrow.PrimitiveTypes.Int64}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{col}, 1), nil
}
