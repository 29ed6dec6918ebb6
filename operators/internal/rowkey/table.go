package rowkey

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Sentinel errors, wrapped with %w.
var (
	// ErrUnsupportedType: a key type the table cannot hash.
	ErrUnsupportedType = errors.New("unsupported key type")
	// ErrTypeMismatch: a column given to Insert or Lookup does not fit the
	// key type the table was built with (see the package doc for what fits).
	ErrTypeMismatch = errors.New("key column type mismatch")
)

// class groups the types whose values compare with each other.
type class uint8

const (
	classNone class = iota
	classSigned
	classUnsigned
	classFloat
	classBool
	classBytes
	classTemporal
)

func classOf(dt arrow.DataType) class {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return classSigned
	case arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return classUnsigned
	case arrow.FLOAT32, arrow.FLOAT64:
		return classFloat
	case arrow.BOOL:
		return classBool
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return classBytes
	case arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return classTemporal
	}
	return classNone
}

// OutputType is the type Keys returns for a key column of type dt: dt
// itself, or the value type of a dictionary type.
func OutputType(dt arrow.DataType) arrow.DataType {
	if d, ok := dt.(*arrow.DictionaryType); ok {
		return d.ValueType
	}
	return dt
}

// Supported returns nil when dt can be a key type, otherwise an error
// wrapping ErrUnsupportedType.
func Supported(dt arrow.DataType) error {
	if classOf(OutputType(dt)) == classNone {
		return fmt.Errorf("%w %s", ErrUnsupportedType, dt)
	}
	return nil
}

// column is one key column's value -> local id table.
type column interface {
	insert(a arrow.Array, ids []int32)
	lookup(a arrow.Array, ids []int32)
	// prepare readies a dictionary's values for insertAt and lookupAt.
	prepare(dict arrow.Array)
	insertAt(j int) int32
	lookupAt(j int) int32
	len() int
	take(mem memory.Allocator, ids []int32) arrow.Array
	bytes() int64
}

// Table maps row keys (one value per key column) to dense ids 0..Len()-1,
// assigned in order of first appearance. The zero value is not usable:
// call New. Not safe for concurrent use.
type Table struct {
	types []arrow.DataType // output types
	cols  []column
	pairs []u64Table   // len(cols)-1 tables combining local ids
	dense []denseCache // one per pair table
	local [][]int32    // scratch per column (multi-column keys)
	memo  []int32      // scratch: dictionary index -> local id
}

// New returns an empty table for keys of the given column types (at least
// one). mem is accepted for symmetry with the rest of the engine; the
// table's own state lives on the Go heap (see Bytes), only Keys allocates
// from an allocator.
func New(mem memory.Allocator, keyTypes []arrow.DataType) (*Table, error) {
	_ = mem
	if len(keyTypes) == 0 {
		return nil, fmt.Errorf("rowkey: no key column")
	}
	t := &Table{}
	for i, dt := range keyTypes {
		if err := Supported(dt); err != nil {
			return nil, fmt.Errorf("rowkey: key %d: %w", i, err)
		}
		out := OutputType(dt)
		t.types = append(t.types, out)
		if c := classOf(out); c == classBytes {
			t.cols = append(t.cols, newBytesCol(out))
		} else {
			t.cols = append(t.cols, newFixedCol(out, c))
		}
	}
	if len(t.cols) > 1 {
		t.pairs = make([]u64Table, len(t.cols)-1)
		for i := range t.pairs {
			t.pairs[i].init()
		}
		t.local = make([][]int32, len(t.cols))
		t.dense = make([]denseCache, len(t.pairs))
	}
	return t, nil
}

// NumKeys is the number of key columns.
func (t *Table) NumKeys() int { return len(t.cols) }

// Len is the number of distinct keys (ids 0..Len()-1 are in use).
func (t *Table) Len() int {
	if len(t.pairs) == 0 {
		return t.cols[0].len()
	}
	return len(t.pairs[len(t.pairs)-1].keys)
}

func (t *Table) check(cols []arrow.Array, ids []int32) (int, error) {
	if len(cols) != len(t.cols) {
		return 0, fmt.Errorf("rowkey: %w: %d key columns given, the table has %d", ErrTypeMismatch, len(cols), len(t.cols))
	}
	n := cols[0].Len()
	for i, a := range cols {
		if a.Len() != n {
			return 0, fmt.Errorf("rowkey: key columns of different lengths (%d and %d)", n, a.Len())
		}
		dt := OutputType(a.DataType())
		want := t.types[i]
		ok := classOf(dt) == classOf(want)
		if ok && classOf(want) == classTemporal {
			ok = arrow.TypeEqual(dt, want)
		}
		if !ok {
			return 0, fmt.Errorf("rowkey: key %d: %w: column of type %s, key of type %s", i, ErrTypeMismatch, a.DataType(), want)
		}
	}
	if len(ids) < n {
		return 0, fmt.Errorf("rowkey: ids has room for %d rows, need %d", len(ids), n)
	}
	return n, nil
}

// Insert sets ids[i] to the id of row i's key for every row of cols (one
// array per key column, all of the same length, in the order of the key
// types given to New), assigning new ids to keys not seen before. ids must
// have room for every row. It fails only when a column does not fit its
// key type.
func (t *Table) Insert(cols []arrow.Array, ids []int32) error {
	return t.run(cols, ids, false)
}

// Lookup sets ids[i] to the id of row i's key, or -1 when the key is not
// in the table; it never changes the table. A null key value matches the
// null of that column (group semantics); for SQL joins, drop rows with null
// keys before probing.
func (t *Table) Lookup(cols []arrow.Array, ids []int32) error {
	return t.run(cols, ids, true)
}

func (t *Table) run(cols []arrow.Array, ids []int32, probe bool) error {
	n, err := t.check(cols, ids)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	ids = ids[:n]
	if len(t.cols) == 1 {
		t.column(0, cols[0], ids, probe)
		return nil
	}
	for c := range t.cols {
		if cap(t.local[c]) < n {
			t.local[c] = make([]int32, n)
		}
		t.local[c] = t.local[c][:n]
	}
	t.column(0, cols[0], t.local[0], probe)
	copy(ids, t.local[0])
	for c := 1; c < len(t.cols); c++ {
		loc := t.local[c]
		t.column(c, cols[c], loc, probe)
		p := &t.pairs[c-1]
		if dc := &t.dense[c-1]; dc.fit(len(t.pairs[max(c-2, 0)].keys), t.cols[max(c-1, 0)].len(), t.cols[c].len(), c == 1) {
			dc.combine(p, ids, loc, probe)
			continue
		}
		if probe {
			for i, l := range loc {
				if ids[i] < 0 || l < 0 {
					ids[i] = -1
					continue
				}
				ids[i] = p.lookup(uint64(uint32(ids[i]))<<32 | uint64(uint32(l)))
			}
		} else {
			for i, l := range loc {
				ids[i] = p.insert(uint64(uint32(ids[i]))<<32 | uint64(uint32(l)))
			}
		}
	}
	return nil
}

// column computes column c's local ids for a (decoding dictionaries).
func (t *Table) column(c int, a arrow.Array, ids []int32, probe bool) {
	col := t.cols[c]
	d, ok := a.(*array.Dictionary)
	if !ok {
		if probe {
			col.lookup(a, ids)
		} else {
			col.insert(a, ids)
		}
		return
	}
	dict := d.Dictionary()
	col.prepare(dict)
	nd := dict.Len()
	if cap(t.memo) < nd {
		t.memo = make([]int32, nd)
	}
	memo := t.memo[:nd]
	const unknown = -2
	for i := range memo {
		memo[i] = unknown
	}
	nullID := func() int32 {
		// the null of the column: a null index maps to it
		if probe {
			return nullOf(col)
		}
		return insertNull(col)
	}
	for i := range ids {
		if d.IsNull(i) {
			ids[i] = nullID()
			continue
		}
		j := d.GetValueIndex(i)
		id := memo[j]
		if id == unknown {
			if probe {
				id = col.lookupAt(j)
			} else {
				id = col.insertAt(j)
			}
			memo[j] = id
		}
		ids[i] = id
	}
	col.prepare(nil)
}

func nullOf(c column) int32 {
	switch x := c.(type) {
	case *fixedCol:
		return x.nullID
	case *bytesCol:
		return x.nullID
	}
	return -1
}

func insertNull(c column) int32 {
	switch x := c.(type) {
	case *fixedCol:
		return x.null()
	case *bytesCol:
		return x.null()
	}
	return -1
}

// Types returns the types of the columns Keys returns.
func (t *Table) Types() []arrow.DataType { return t.types }

// Keys returns the distinct keys, one array per key column (of the types
// Types reports), row i holding the key of id i. The caller releases them.
func (t *Table) Keys(mem memory.Allocator) []arrow.Array {
	return t.KeysRange(mem, 0, t.Len())
}

// KeysRange is Keys restricted to ids lo..hi-1 (for emitting the keys in
// batches).
func (t *Table) KeysRange(mem memory.Allocator, lo, hi int) []arrow.Array {
	n := hi - lo
	comp := make([][]int32, len(t.cols))
	for c := range comp {
		comp[c] = make([]int32, n)
	}
	for g := range n {
		cur := int32(lo + g)
		for c := len(t.cols) - 1; c >= 1; c-- {
			k := t.pairs[c-1].keys[cur]
			comp[c][g] = int32(uint32(k))
			cur = int32(k >> 32)
		}
		comp[0][g] = cur
	}
	out := make([]arrow.Array, len(t.cols))
	for c, col := range t.cols {
		out[c] = col.take(mem, comp[c])
	}
	return out
}

// Bytes is the memory the table holds (hash slots, stored keys, scratch
// buffers), for PeakBytes accounting.
func (t *Table) Bytes() int64 {
	var n int64
	for _, c := range t.cols {
		n += c.bytes()
	}
	for i := range t.pairs {
		n += t.pairs[i].bytes()
	}
	for _, l := range t.local {
		n += int64(cap(l)) * 4
	}
	for _, d := range t.dense {
		n += int64(cap(d.cell)) * 4
	}
	return n + int64(cap(t.memo))*4
}

// Release drops the table's memory; the table must not be used after.
func (t *Table) Release() {
	t.cols, t.pairs, t.local, t.memo, t.dense = nil, nil, nil, nil, nil
}

// denseCache sits in front of a pair table when both sides' ids are small:
// cell[left<<rb | right] holds the pair id + 1 (0: not cached yet), so a
// row costs one array load instead of a hash probe. The pair table stays
// the source of truth (it assigns the ids); rows whose ids exceed the
// cache's bounds go to it directly.
type denseCache struct {
	lb, rb uint
	cell   []int32
}

const denseMaxBits = 16

func bitLen(n int) uint {
	b := uint(4)
	for 1<<b < n {
		b++
	}
	return b
}

// fit sizes the cache for the current id ranges (left ids come from the
// first column when first, else from the previous pair table) and reports
// whether it is usable.
func (d *denseCache) fit(prevPairs, firstCol, right int, first bool) bool {
	left := prevPairs
	if first {
		left = firstCol
	}
	lb, rb := bitLen(left+left/2), bitLen(right+right/2)
	if lb+rb > denseMaxBits {
		d.cell = nil
		return false
	}
	if lb != d.lb || rb != d.rb || d.cell == nil {
		if lb < d.lb {
			lb = d.lb
		}
		if rb < d.rb {
			rb = d.rb
		}
		if lb+rb > denseMaxBits {
			d.cell = nil
			return false
		}
		d.lb, d.rb = lb, rb
		d.cell = make([]int32, 1<<(lb+rb))
	}
	return true
}

func (d *denseCache) combine(p *u64Table, ids, loc []int32, probe bool) {
	lmax, rmax := uint32(1)<<d.lb, uint32(1)<<d.rb
	cell := d.cell
	for i, r := range loc {
		l := ids[i]
		if uint32(l) < lmax && uint32(r) < rmax {
			j := uint32(l)<<d.rb | uint32(r)
			if v := cell[j]; v != 0 {
				ids[i] = v - 1
				continue
			}
			var id int32
			if probe {
				id = p.lookup(uint64(uint32(l))<<32 | uint64(uint32(r)))
				if id < 0 {
					ids[i] = -1
					continue
				}
			} else {
				id = p.insert(uint64(uint32(l))<<32 | uint64(uint32(r)))
			}
			cell[j] = id + 1
			ids[i] = id
			continue
		}
		if l < 0 || r < 0 {
			ids[i] = -1
			continue
		}
		if probe {
			ids[i] = p.lookup(uint64(uint32(l))<<32 | uint64(uint32(r)))
		} else {
			ids[i] = p.insert(uint64(uint32(l))<<32 | uint64(uint32(r)))
		}
	}
}
