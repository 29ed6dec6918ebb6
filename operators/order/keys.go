package order

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

// keySpec is one configured sort key.
type keySpec struct {
	name       string
	desc       bool
	nullsFirst bool
}

// keyCol holds one sort key's values for a set of rows, normalized so that
// comparing them needs no type switch:
//
//   - fixed-width keys (integers, floats, bool, temporal types) become
//     order-preserving uint64 in u, bit-inverted for descending keys;
//   - string and binary keys keep their bytes (data, offs) and the first 8
//     bytes big-endian in u (inverted when descending), so most comparisons
//     are settled by u alone.
//
// rank is nil when no row is null; otherwise null rows get rank 0 (nulls
// first) or 1 (nulls last) and the others the opposite, and u is 0.
type keyCol struct {
	str  bool
	desc bool
	u    []uint64
	rank []uint8
	// valRank is the rank of non-null rows.
	valRank uint8
	offs    []int64
	data    []byte
}

// keySet is every key of a set of rows.
type keySet struct {
	cols []keyCol
	n    int
}

// bytes reports the memory held by ks.
func (ks *keySet) bytes() int64 {
	var s int64
	for _, c := range ks.cols {
		s += int64(cap(c.u))*8 + int64(cap(c.rank)) + int64(cap(c.offs))*8 + int64(cap(c.data))
	}
	return s
}

// sortable reports whether a column of type dt can be a sort key.
func sortable(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL, arrow.NULL,
		arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.DURATION,
		arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return true
	}
	return false
}

// bindKeys resolves the key names in schema.
func bindKeys(keys []keySpec, schema *arrow.Schema) ([]int, error) {
	idx := make([]int, len(keys))
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	for k, key := range keys {
		fi := schema.FieldIndices(key.name)
		if len(fi) == 0 {
			return nil, &operators.UnknownColumnError{Stage: sortName, Column: key.name, Suggestion: flow.Nearest(key.name, names), Available: names}
		}
		dt := schema.Field(fi[0]).Type
		if !sortable(dt) {
			return nil, fmt.Errorf("%s: key %q: %w %s", sortName, key.name, operators.ErrUnsupportedType, dt)
		}
		idx[k] = fi[0]
	}
	return idx, nil
}

// buildKeys normalizes the keys of the rows of batches (all of one schema;
// idx are the key columns) into one keySet, rows numbered in order.
func buildKeys(keys []keySpec, idx []int, batches []arrow.RecordBatch) *keySet {
	n := 0
	for _, b := range batches {
		n += int(b.NumRows())
	}
	ks := &keySet{cols: make([]keyCol, len(keys)), n: n}
	for k, key := range keys {
		c := &ks.cols[k]
		c.desc = key.desc
		c.u = make([]uint64, n)
		hasNull := false
		for _, b := range batches {
			if b.Column(idx[k]).NullN() > 0 {
				hasNull = true
			}
		}
		if hasNull {
			c.rank = make([]uint8, n)
		}
		var nullRank, valRank uint8 = 1, 0
		if key.nullsFirst {
			nullRank, valRank = 0, 1
		}
		c.valRank = valRank
		pos := 0
		for _, b := range batches {
			a := b.Column(idx[k])
			m := a.Len()
			switch a := a.(type) {
			case *array.String:
				c.str = true
				appendStrings(c, n, pos, m, a.ValueOffsets(), a.ValueBytes())
			case *array.Binary:
				c.str = true
				appendStrings(c, n, pos, m, a.ValueOffsets(), a.ValueBytes())
			case *array.LargeString:
				c.str = true
				appendStrings(c, n, pos, m, a.ValueOffsets(), a.ValueBytes())
			case *array.LargeBinary:
				c.str = true
				appendStrings(c, n, pos, m, a.ValueOffsets(), a.ValueBytes())
			default:
				normalizeFixed(c.u[pos:pos+m], a)
			}
			if c.rank != nil {
				r := c.rank[pos : pos+m]
				if a.NullN() == 0 {
					for i := range r {
						r[i] = valRank
					}
				} else {
					for i := range r {
						if a.IsNull(i) {
							r[i] = nullRank
							c.u[pos+i] = 0
						} else {
							r[i] = valRank
						}
					}
				}
			}
			pos += m
		}
		if c.desc {
			u := c.u
			for i := range u {
				u[i] = ^u[i]
			}
			if c.rank != nil {
				// Nulls stay 0 after inversion so that equal nulls tie.
				for i, r := range c.rank {
					if r == nullRank {
						u[i] = 0
					}
				}
			}
		}
	}
	return ks
}

// appendStrings copies m string values (Arrow offsets and bytes) into c
// at row pos.
func appendStrings[O int32 | int64](c *keyCol, n, pos, m int, offs []O, data []byte) {
	if c.offs == nil {
		c.offs = make([]int64, n+1)
	}
	if m == 0 {
		return
	}
	// data starts at offs[0] (Arrow's ValueBytes).
	base := int64(len(c.data)) - int64(offs[0])
	c.data = append(c.data, data...)
	o0 := offs[0]
	for i := 0; i < m; i++ {
		c.offs[pos+i] = int64(offs[i]) + base
		c.u[pos+i] = prefix(data[offs[i]-o0 : offs[i+1]-o0])
	}
	c.offs[pos+m] = int64(offs[m]) + base
}

// prefix returns the first 8 bytes of v big-endian, zero-padded.
func prefix(v []byte) uint64 {
	if len(v) >= 8 {
		return binary.BigEndian.Uint64(v)
	}
	var b [8]byte
	copy(b[:], v)
	return binary.BigEndian.Uint64(b[:])
}

// normalizeFixed writes the order-preserving uint64 form of a's values
// into u (null slots get arbitrary values).
func normalizeFixed(u []uint64, a arrow.Array) {
	const sign = 1 << 63
	switch a := a.(type) {
	case *array.Int8:
		for i, v := range a.Int8Values() {
			u[i] = uint64(int64(v)) ^ sign
		}
	case *array.Int16:
		for i, v := range a.Int16Values() {
			u[i] = uint64(int64(v)) ^ sign
		}
	case *array.Int32:
		for i, v := range a.Int32Values() {
			u[i] = uint64(int64(v)) ^ sign
		}
	case *array.Int64:
		for i, v := range a.Int64Values() {
			u[i] = uint64(v) ^ sign
		}
	case *array.Uint8:
		for i, v := range a.Uint8Values() {
			u[i] = uint64(v)
		}
	case *array.Uint16:
		for i, v := range a.Uint16Values() {
			u[i] = uint64(v)
		}
	case *array.Uint32:
		for i, v := range a.Uint32Values() {
			u[i] = uint64(v)
		}
	case *array.Uint64:
		copy(u, a.Uint64Values())
	case *array.Float32:
		for i, v := range a.Float32Values() {
			u[i] = floatKey(float64(v))
		}
	case *array.Float64:
		for i, v := range a.Float64Values() {
			u[i] = floatKey(v)
		}
	case *array.Boolean:
		for i := range u[:a.Len()] {
			if a.Value(i) {
				u[i] = 1
			} else {
				u[i] = 0
			}
		}
	case *array.Timestamp:
		for i, v := range a.TimestampValues() {
			u[i] = uint64(int64(v)) ^ sign
		}
	case *array.Date32:
		for i, v := range a.Date32Values() {
			u[i] = uint64(int64(v)) ^ sign
		}
	case *array.Date64:
		for i, v := range a.Date64Values() {
			u[i] = uint64(int64(v)) ^ sign
		}
	case *array.Time32:
		for i, v := range a.Time32Values() {
			u[i] = uint64(int64(v)) ^ sign
		}
	case *array.Time64:
		for i, v := range a.Time64Values() {
			u[i] = uint64(int64(v)) ^ sign
		}
	case *array.Duration:
		for i, v := range a.DurationValues() {
			u[i] = uint64(int64(v)) ^ sign
		}
	default: // arrow.NULL: every row is null, ranked by the caller.
		clear(u[:a.Len()])
	}
}

// floatKey maps a float to a uint64 of the same order: -Inf < negatives <
// -0 = +0 < positives < +Inf < NaN (every NaN equal).
func floatKey(f float64) uint64 {
	if f != f {
		return math.MaxUint64
	}
	if f == 0 {
		f = 0 // -0 sorts as +0
	}
	b := math.Float64bits(f)
	if b&(1<<63) != 0 {
		return ^b
	}
	return b | 1<<63
}

// compare orders row i of a against row j of b on every key (a and b
// have the same keys; they may be the same set).
func compare(a *keySet, i int, b *keySet, j int) int {
	for k := range a.cols {
		ca, cb := &a.cols[k], &b.cols[k]
		if ca.rank != nil || cb.rank != nil {
			ra, rb := rankAt(ca, i), rankAt(cb, j)
			if ra != rb {
				if ra < rb {
					return -1
				}
				return 1
			}
		}
		ua, ub := ca.u[i], cb.u[j]
		if ua != ub {
			if ua < ub {
				return -1
			}
			return 1
		}
		if ca.str && !isNullAt(ca, i) {
			c := bytes.Compare(ca.data[ca.offs[i]:ca.offs[i+1]], cb.data[cb.offs[j]:cb.offs[j+1]])
			if c != 0 {
				if ca.desc {
					return -c
				}
				return c
			}
		}
	}
	return 0
}

// rankAt is the null rank of row i (valRank when the set has no nulls).
func rankAt(c *keyCol, i int) uint8 {
	if c.rank == nil {
		return c.valRank
	}
	return c.rank[i]
}

func isNullAt(c *keyCol, i int) bool { return c.rank != nil && c.rank[i] != c.valRank }
