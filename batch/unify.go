package batch

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// WidenType returns the type that holds values of both a and b:
//
//   - equal types (and a null type with anything) → that type;
//   - two integer types → int64; integers with floats, or two float
//     types → float64;
//   - two timestamps of different unit or zone, or a timestamp and a date
//     → timestamp (microseconds, UTC); two dates → date32;
//   - two string types → string;
//   - anything else → string (every value has a text form).
func WidenType(a, b arrow.DataType) arrow.DataType {
	switch {
	case a == nil || a.ID() == arrow.NULL:
		return b
	case b == nil || b.ID() == arrow.NULL:
		return a
	case arrow.TypeEqual(a, b):
		return a
	}
	ia, ib := a.ID(), b.ID()
	switch {
	case isInteger(ia) && isInteger(ib):
		return arrow.PrimitiveTypes.Int64
	case (isInteger(ia) || isFloat(ia)) && (isInteger(ib) || isFloat(ib)):
		return arrow.PrimitiveTypes.Float64
	case isTemporal(ia) && isTemporal(ib):
		if ia == arrow.TIMESTAMP || ib == arrow.TIMESTAMP {
			return Timestamp
		}
		return arrow.FixedWidthTypes.Date32
	}
	return arrow.BinaryTypes.String
}

func isTemporal(id arrow.Type) bool {
	return id == arrow.TIMESTAMP || id == arrow.DATE32 || id == arrow.DATE64
}

// Unify merges schemas by column name. Columns keep the order of their
// first appearance; a column present in several schemas gets
// WidenType of its types; a column missing from some schema, or nullable
// in any, is nullable. Metadata of a field (such as MetaJSON) is kept when
// every schema that has the column agrees on its type. Schema metadata is
// dropped. Nil schemas are skipped.
func Unify(schemas ...*arrow.Schema) *arrow.Schema {
	var (
		fields []arrow.Field
		index  = map[string]int{}
		seen   []int
		n      int
	)
	for _, s := range schemas {
		if s == nil {
			continue
		}
		n++
		for _, f := range s.Fields() {
			i, ok := index[f.Name]
			if !ok {
				index[f.Name] = len(fields)
				fields = append(fields, f)
				seen = append(seen, 1)
				continue
			}
			seen[i]++
			g := &fields[i]
			if !arrow.TypeEqual(g.Type, f.Type) {
				g.Type = WidenType(g.Type, f.Type)
				g.Metadata = arrow.Metadata{}
			} else if !g.Metadata.Equal(f.Metadata) {
				g.Metadata = arrow.Metadata{}
			}
			g.Nullable = g.Nullable || f.Nullable
		}
	}
	for i := range fields {
		if seen[i] < n {
			fields[i].Nullable = true
		}
	}
	return arrow.NewSchema(fields, nil)
}

// Project returns b reshaped to schema to: columns are matched by name,
// a column missing from b becomes all nulls, a column of another type is
// cast (see Cast), and columns of b absent from to are dropped. When b
// already has schema to, it is retained and returned as is. b is borrowed;
// the caller owns the result.
func Project(mem memory.Allocator, b arrow.RecordBatch, to *arrow.Schema) (arrow.RecordBatch, error) {
	if b.Schema().Equal(to) {
		b.Retain()
		return b, nil
	}
	n := int(b.NumRows())
	cols := make([]arrow.Array, 0, to.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	from := b.Schema()
	for _, f := range to.Fields() {
		idx := from.FieldIndices(f.Name)
		if len(idx) == 0 {
			cols = append(cols, array.MakeArrayOfNull(mem, f.Type, n))
			continue
		}
		c, err := Cast(mem, b.Column(idx[0]), f.Type)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		cols = append(cols, c)
	}
	return array.NewRecordBatch(to, cols, int64(n)), nil
}

// Cast converts arr to type to, returning a new reference the caller owns
// (arr itself, retained, when the types are equal). Supported: any
// integer or float to int64 (integral values only) or float64; any type to
// string (as FormatValue renders it, nulls kept); timestamps and dates to
// timestamps of any unit; timestamps and dates to date32; string to any
// type Builder accepts (parsed as Builder parses strings); all-null arrays
// to anything. A value that cannot be converted fails with a *ValueError.
func Cast(mem memory.Allocator, arr arrow.Array, to arrow.DataType) (arrow.Array, error) {
	if arrow.TypeEqual(arr.DataType(), to) {
		arr.Retain()
		return arr, nil
	}
	if arr.DataType().ID() == arrow.NULL || arr.NullN() == arr.Len() {
		return array.MakeArrayOfNull(mem, to, arr.Len()), nil
	}
	if !buildable(to) {
		return nil, fmt.Errorf("%w: cast from %s to %s", ErrUnsupportedType, arr.DataType(), to)
	}
	b := array.NewBuilder(mem, to)
	defer b.Release()
	b.Reserve(arr.Len())
	toID := to.ID()
	fromID := arr.DataType().ID()
	for i := 0; i < arr.Len(); i++ {
		if arr.IsNull(i) {
			b.AppendNull()
			continue
		}
		var v any
		switch {
		case toID == arrow.STRING || toID == arrow.LARGE_STRING:
			v = FormatValue(arr, i)
		case isTemporal(fromID) && (toID == arrow.TIMESTAMP || toID == arrow.DATE32):
			v = temporalAt(arr, i)
		default:
			v = Value(arr, i)
		}
		c, err := convert(v, to)
		if err != nil {
			return nil, &ValueError{Column: "", Value: v, Type: to, Reason: err}
		}
		appendConverted(b, c)
	}
	return b.NewArray(), nil
}

func temporalAt(arr arrow.Array, i int) any {
	switch a := arr.(type) {
	case *array.Timestamp:
		return a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit)
	case *array.Date32:
		return a.Value(i).ToTime()
	case *array.Date64:
		return a.Value(i).ToTime()
	}
	return nil
}
