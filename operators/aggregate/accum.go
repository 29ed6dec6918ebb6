package aggregate

import (
	"bytes"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/operators/internal/rowkey"
)

// Operations, as configured (mean is an alias of avg).
const (
	opSum           = "sum"
	opAvg           = "avg"
	opMean          = "mean"
	opCount         = "count"
	opCountDistinct = "count_distinct"
	opMin           = "min"
	opMax           = "max"
	opMedian        = "median"
	opStd           = "std"
	opVar           = "var"
	opFirst         = "first"
	opLast          = "last"
)

var operations = []string{opSum, opAvg, opMean, opCount, opCountDistinct, opMin, opMax, opMedian, opStd, opVar, opFirst, opLast}

// accumulator folds one column into per-group state. Groups are dense ids;
// update is called once per batch with the group id of every row and the
// current number of groups; result builds the output for groups lo..hi-1.
type accumulator interface {
	update(col arrow.Array, ids []int32, ngroups int)
	result(mem memory.Allocator, lo, hi int) arrow.Array
	bytes() int64
}

// overflower is implemented by accumulators that can give null on integer
// overflow; overflowed reports how many groups did.
type overflower interface{ overflowed() int }

func isInt(dt arrow.DataType) bool   { return arrow.IsInteger(dt.ID()) }
func isFloat(dt arrow.DataType) bool { return dt.ID() == arrow.FLOAT32 || dt.ID() == arrow.FLOAT64 }
func isNumeric(dt arrow.DataType) bool {
	return isInt(dt) || isFloat(dt)
}

func isTemporal(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return true
	}
	return false
}

func isBytes(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return true
	}
	return false
}

// resultType is the output type of op over a column of type in (nil for
// count of rows), or an error wrapping operators.ErrTypeMismatch.
func resultType(op string, in arrow.DataType) (arrow.DataType, error) {
	bad := func(what string) error {
		return fmt.Errorf("%w: %s needs %s, the column is %s", operators.ErrTypeMismatch, op, what, in)
	}
	switch op {
	case opCount:
		return arrow.PrimitiveTypes.Int64, nil
	case opCountDistinct:
		if err := rowkey.Supported(in); err != nil {
			return nil, fmt.Errorf("%w: count_distinct over %s", operators.ErrUnsupportedType, in)
		}
		return arrow.PrimitiveTypes.Int64, nil
	case opSum:
		switch {
		case isInt(in):
			return arrow.PrimitiveTypes.Int64, nil
		case isFloat(in):
			return arrow.PrimitiveTypes.Float64, nil
		}
		return nil, bad("a number column")
	case opAvg, opMean, opMedian, opStd, opVar:
		if isNumeric(in) {
			return arrow.PrimitiveTypes.Float64, nil
		}
		return nil, bad("a number column")
	case opMin, opMax, opFirst, opLast:
		if isNumeric(in) || isTemporal(in) || isBytes(in) || in.ID() == arrow.BOOL {
			return in, nil
		}
		return nil, bad("a number, bool, string, binary, date, time or timestamp column")
	}
	return nil, fmt.Errorf("unknown operation %q", op)
}

// newAccumulator returns op's accumulator over a column of type in (which
// resultType accepted).
func newAccumulator(op string, in arrow.DataType) accumulator {
	switch op {
	case opCount:
		return &countAcc{}
	case opCountDistinct:
		return newCountDistinct(in)
	case opSum:
		if isInt(in) {
			return &sumIntAcc{}
		}
		return &sumFloatAcc{}
	case opAvg, opMean:
		return &avgAcc{}
	case opStd, opVar:
		return &varAcc{std: op == opStd}
	case opMedian:
		return &medianAcc{}
	case opMin, opMax, opFirst, opLast:
		m := modeOf(op)
		if isBytes(in) {
			return &bytesSel{mode: m, typ: in}
		}
		return newFixedSel(m, in)
	}
	panic("aggregate: unknown operation " + op)
}

func grow[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	if cap(s) >= n {
		return s[:n]
	}
	return append(s, make([]T, n-len(s))...)
}

// validity describes a column's null bitmap for row loops.
type validity struct {
	bm    []byte
	off   int
	nulls bool
}

func validityOf(a arrow.Array) validity {
	return validity{bm: a.NullBitmapBytes(), off: a.Data().Offset(), nulls: a.NullN() > 0}
}

func (v validity) ok(i int) bool { return bitutil.BitIsSet(v.bm, v.off+i) }

// ---- numeric views -------------------------------------------------------

func convert[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64](dst []float64, src []T) {
	for i, v := range src {
		dst[i] = float64(v)
	}
}

// toFloat64 returns a's values as float64: the column's own buffer for
// float64, otherwise *scratch (grown as needed) holding converted values.
func toFloat64(a arrow.Array, scratch *[]float64) []float64 {
	d := a.Data()
	n := a.Len()
	if a.DataType().ID() == arrow.FLOAT64 {
		return arrow.GetValues[float64](d, 1)
	}
	*scratch = grow(*scratch, n)
	dst := (*scratch)[:n]
	switch a.DataType().ID() {
	case arrow.INT8:
		convert(dst, arrow.GetValues[int8](d, 1))
	case arrow.INT16:
		convert(dst, arrow.GetValues[int16](d, 1))
	case arrow.INT32:
		convert(dst, arrow.GetValues[int32](d, 1))
	case arrow.INT64:
		convert(dst, arrow.GetValues[int64](d, 1))
	case arrow.UINT8:
		convert(dst, arrow.GetValues[uint8](d, 1))
	case arrow.UINT16:
		convert(dst, arrow.GetValues[uint16](d, 1))
	case arrow.UINT32:
		convert(dst, arrow.GetValues[uint32](d, 1))
	case arrow.UINT64:
		convert(dst, arrow.GetValues[uint64](d, 1))
	case arrow.FLOAT32:
		convert(dst, arrow.GetValues[float32](d, 1))
	}
	return dst
}

// ---- count ---------------------------------------------------------------

type countAcc struct{ n []int64 }

func (c *countAcc) update(col arrow.Array, ids []int32, ng int) {
	c.n = grow(c.n, ng)
	n := c.n
	if col == nil || col.NullN() == 0 {
		for _, g := range ids {
			n[g]++
		}
		return
	}
	v := validityOf(col)
	for i, g := range ids {
		if v.ok(i) {
			n[g]++
		}
	}
}

func (c *countAcc) result(mem memory.Allocator, lo, hi int) arrow.Array {
	c.n = grow(c.n, hi)
	return int64Array(mem, c.n[lo:hi], nil)
}

func (c *countAcc) bytes() int64 { return int64(cap(c.n)) * 8 }

// ---- sum -----------------------------------------------------------------

// sumIntAcc sums integers in int64. A group whose sum leaves the int64
// range at any point gets a null sum (never a wrapped number).
type sumIntAcc struct {
	sum []int64
	has []bool
	ovf []bool
}

func sumInts[T int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64](s *sumIntAcc, vals []T, v validity, ids []int32) {
	sum, has, ovf := s.sum, s.has, s.ovf
	for i, g := range ids {
		if v.nulls && !v.ok(i) {
			continue
		}
		x := int64(vals[i])
		big := vals[i] > 0 && x < 0 // uint64 above MaxInt64
		a := sum[g]
		r := a + x
		ovf[g] = ovf[g] || big || (a^r)&(x^r) < 0
		sum[g] = r
		has[g] = true
	}
}

func (s *sumIntAcc) update(col arrow.Array, ids []int32, ng int) {
	s.sum, s.has, s.ovf = grow(s.sum, ng), grow(s.has, ng), grow(s.ovf, ng)
	d, v := col.Data(), validityOf(col)
	switch col.DataType().ID() {
	case arrow.INT8:
		sumInts(s, arrow.GetValues[int8](d, 1), v, ids)
	case arrow.INT16:
		sumInts(s, arrow.GetValues[int16](d, 1), v, ids)
	case arrow.INT32:
		sumInts(s, arrow.GetValues[int32](d, 1), v, ids)
	case arrow.INT64:
		sumInts(s, arrow.GetValues[int64](d, 1), v, ids)
	case arrow.UINT8:
		sumInts(s, arrow.GetValues[uint8](d, 1), v, ids)
	case arrow.UINT16:
		sumInts(s, arrow.GetValues[uint16](d, 1), v, ids)
	case arrow.UINT32:
		sumInts(s, arrow.GetValues[uint32](d, 1), v, ids)
	case arrow.UINT64:
		sumInts(s, arrow.GetValues[uint64](d, 1), v, ids)
	}
}

func (s *sumIntAcc) result(mem memory.Allocator, lo, hi int) arrow.Array {
	s.sum, s.has, s.ovf = grow(s.sum, hi), grow(s.has, hi), grow(s.ovf, hi)
	valid := make([]bool, hi-lo)
	for i := range valid {
		valid[i] = s.has[lo+i] && !s.ovf[lo+i]
	}
	return int64Array(mem, s.sum[lo:hi], valid)
}

func (s *sumIntAcc) overflowed() int {
	n := 0
	for _, o := range s.ovf {
		if o {
			n++
		}
	}
	return n
}

func (s *sumIntAcc) bytes() int64 { return int64(cap(s.sum))*8 + int64(cap(s.has)+cap(s.ovf)) }

type sumFloatAcc struct {
	conv []float64
	sum  []float64
	has  []bool
}

func (s *sumFloatAcc) update(col arrow.Array, ids []int32, ng int) {
	s.sum, s.has = grow(s.sum, ng), grow(s.has, ng)
	vals, v := toFloat64(col, &s.conv), validityOf(col)
	sum, has := s.sum, s.has
	if !v.nulls {
		for i, g := range ids {
			sum[g] += vals[i]
			has[g] = true
		}
		return
	}
	for i, g := range ids {
		if v.ok(i) {
			sum[g] += vals[i]
			has[g] = true
		}
	}
}

func (s *sumFloatAcc) result(mem memory.Allocator, lo, hi int) arrow.Array {
	s.sum, s.has = grow(s.sum, hi), grow(s.has, hi)
	return float64Array(mem, s.sum[lo:hi], s.has[lo:hi])
}

func (s *sumFloatAcc) bytes() int64 { return int64(cap(s.sum))*8 + int64(cap(s.has)) }

// ---- avg -----------------------------------------------------------------

type avgAcc struct {
	conv []float64
	sum  []float64
	n    []int64
}

func (s *avgAcc) update(col arrow.Array, ids []int32, ng int) {
	s.sum, s.n = grow(s.sum, ng), grow(s.n, ng)
	vals, v := toFloat64(col, &s.conv), validityOf(col)
	sum, cnt := s.sum, s.n
	if !v.nulls {
		for i, g := range ids {
			sum[g] += vals[i]
			cnt[g]++
		}
		return
	}
	for i, g := range ids {
		if v.ok(i) {
			sum[g] += vals[i]
			cnt[g]++
		}
	}
}

func (s *avgAcc) result(mem memory.Allocator, lo, hi int) arrow.Array {
	s.sum, s.n = grow(s.sum, hi), grow(s.n, hi)
	out := make([]float64, hi-lo)
	valid := make([]bool, hi-lo)
	for i := range out {
		if c := s.n[lo+i]; c > 0 {
			out[i], valid[i] = s.sum[lo+i]/float64(c), true
		}
	}
	return float64Array(mem, out, valid)
}

func (s *avgAcc) bytes() int64 { return int64(cap(s.sum))*8 + int64(cap(s.n))*8 }

// ---- var / std (Welford) -------------------------------------------------

type varAcc struct {
	conv []float64
	std  bool
	n    []int64
	mean []float64
	m2   []float64
}

func (s *varAcc) update(col arrow.Array, ids []int32, ng int) {
	s.n, s.mean, s.m2 = grow(s.n, ng), grow(s.mean, ng), grow(s.m2, ng)
	vals, v := toFloat64(col, &s.conv), validityOf(col)
	n, mean, m2 := s.n, s.mean, s.m2
	for i, g := range ids {
		if v.nulls && !v.ok(i) {
			continue
		}
		x := vals[i]
		n[g]++
		d := x - mean[g]
		mean[g] += d / float64(n[g])
		m2[g] += d * (x - mean[g])
	}
}

func (s *varAcc) result(mem memory.Allocator, lo, hi int) arrow.Array {
	s.n, s.mean, s.m2 = grow(s.n, hi), grow(s.mean, hi), grow(s.m2, hi)
	out := make([]float64, hi-lo)
	valid := make([]bool, hi-lo)
	for i := range out {
		if c := s.n[lo+i]; c >= 2 {
			v := s.m2[lo+i] / float64(c-1)
			if s.std {
				v = math.Sqrt(v)
			}
			out[i], valid[i] = v, true
		}
	}
	return float64Array(mem, out, valid)
}

func (s *varAcc) bytes() int64 { return int64(cap(s.n)+cap(s.mean)+cap(s.m2)) * 8 }

// ---- median --------------------------------------------------------------

// medianAcc keeps every non-null value with its group (memory proportional
// to the rows, not the groups) and computes the medians once.
type medianAcc struct {
	conv   []float64
	vals   []float64
	grp    []int32
	ng     int
	med    []float64
	valid  []bool
	solved bool
}

func (s *medianAcc) update(col arrow.Array, ids []int32, ng int) {
	s.ng = max(s.ng, ng)
	vals, v := toFloat64(col, &s.conv), validityOf(col)
	for i, g := range ids {
		if v.nulls && !v.ok(i) {
			continue
		}
		s.vals = append(s.vals, vals[i])
		s.grp = append(s.grp, g)
	}
}

func (s *medianAcc) solve(ng int) {
	ng = max(ng, s.ng)
	// counting sort of the values by group
	start := make([]int, ng+1)
	for _, g := range s.grp {
		start[g+1]++
	}
	for g := 1; g <= ng; g++ {
		start[g] += start[g-1]
	}
	sorted := make([]float64, len(s.vals))
	pos := slices.Clone(start[:ng])
	for i, g := range s.grp {
		sorted[pos[g]] = s.vals[i]
		pos[g]++
	}
	s.vals, s.grp = nil, nil
	s.med, s.valid = make([]float64, ng), make([]bool, ng)
	for g := range ng {
		part := sorted[start[g]:start[g+1]]
		if len(part) == 0 {
			continue
		}
		slices.SortFunc(part, cmpFloat)
		m := len(part) / 2
		if len(part)%2 == 1 {
			s.med[g] = part[m]
		} else {
			s.med[g] = part[m-1] + (part[m]-part[m-1])/2
		}
		s.valid[g] = true
	}
	s.solved = true
}

// cmpFloat orders NaN above every number.
func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	case a != a && b != b:
		return 0
	case a != a:
		return 1
	}
	return -1
}

func (s *medianAcc) result(mem memory.Allocator, lo, hi int) arrow.Array {
	if !s.solved {
		s.solve(hi)
	}
	return float64Array(mem, s.med[lo:hi], s.valid[lo:hi])
}

func (s *medianAcc) bytes() int64 {
	return int64(cap(s.vals))*8 + int64(cap(s.grp))*4 + int64(cap(s.med))*9
}

// ---- count_distinct ------------------------------------------------------

// countDistinct keeps the distinct (group, value) pairs in a rowkey table
// (memory proportional to the distinct pairs).
type countDistinct struct {
	tab  *rowkey.Table
	n    []int64
	pair []int32
}

func newCountDistinct(in arrow.DataType) *countDistinct {
	tab, err := rowkey.New(nil, []arrow.DataType{arrow.PrimitiveTypes.Int32, in})
	if err != nil {
		panic(err) // resultType checked the type
	}
	return &countDistinct{tab: tab}
}

func (c *countDistinct) update(col arrow.Array, ids []int32, ng int) {
	c.n = grow(c.n, ng)
	gbuf := memory.NewBufferBytes(arrow.GetBytes(ids))
	gdata := array.NewData(arrow.PrimitiveTypes.Int32, len(ids), []*memory.Buffer{nil, gbuf}, nil, 0, 0)
	garr := array.NewInt32Data(gdata)
	defer func() {
		garr.Release()
		gdata.Release()
	}()
	c.pair = grow(c.pair, len(ids))
	next := int32(c.tab.Len())
	if err := c.tab.Insert([]arrow.Array{garr, col}, c.pair); err != nil {
		panic(err) // types were checked when binding
	}
	v := validityOf(col)
	if d, ok := col.(*array.Dictionary); ok && d.Dictionary().NullN() > 0 {
		// a valid index may point at a null dictionary value
		for i, p := range c.pair[:len(ids)] {
			if p >= next {
				next = p + 1
				if d.IsValid(i) && d.Dictionary().IsValid(d.GetValueIndex(i)) {
					c.n[ids[i]]++
				}
			}
		}
		return
	}
	for i, p := range c.pair[:len(ids)] {
		if p >= next {
			next = p + 1
			if !v.nulls || v.ok(i) {
				c.n[ids[i]]++
			}
		}
	}
}

func (c *countDistinct) result(mem memory.Allocator, lo, hi int) arrow.Array {
	c.n = grow(c.n, hi)
	return int64Array(mem, c.n[lo:hi], nil)
}

func (c *countDistinct) bytes() int64 {
	return c.tab.Bytes() + int64(cap(c.n))*8 + int64(cap(c.pair))*4
}

// ---- min / max / first / last -------------------------------------------

type selMode uint8

const (
	selMin selMode = iota
	selMax
	selFirst
	selLast
)

func modeOf(op string) selMode {
	switch op {
	case opMin:
		return selMin
	case opMax:
		return selMax
	case opFirst:
		return selFirst
	}
	return selLast
}

type ordered interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

// less orders NaN above every number (as DuckDB and PostgreSQL do).
func less[T ordered](a, b T) bool { return a < b || (b != b && a == a) }

// fixedSelT keeps one value per group of a fixed-width column (numbers,
// temporal types, and bools stored as 0/1).
type fixedSelT[T ordered] struct {
	mode selMode
	typ  arrow.DataType
	vals []T
	has  []bool
	conv []T // scratch for bools
}

func newFixedSel(m selMode, in arrow.DataType) accumulator {
	switch in.ID() {
	case arrow.INT8:
		return &fixedSelT[int8]{mode: m, typ: in}
	case arrow.INT16:
		return &fixedSelT[int16]{mode: m, typ: in}
	case arrow.INT32, arrow.DATE32, arrow.TIME32:
		return &fixedSelT[int32]{mode: m, typ: in}
	case arrow.INT64, arrow.DATE64, arrow.TIME64, arrow.TIMESTAMP, arrow.DURATION:
		return &fixedSelT[int64]{mode: m, typ: in}
	case arrow.UINT8, arrow.BOOL:
		return &fixedSelT[uint8]{mode: m, typ: in}
	case arrow.UINT16:
		return &fixedSelT[uint16]{mode: m, typ: in}
	case arrow.UINT32:
		return &fixedSelT[uint32]{mode: m, typ: in}
	case arrow.UINT64:
		return &fixedSelT[uint64]{mode: m, typ: in}
	case arrow.FLOAT32:
		return &fixedSelT[float32]{mode: m, typ: in}
	case arrow.FLOAT64:
		return &fixedSelT[float64]{mode: m, typ: in}
	}
	panic("aggregate: no selector for " + in.String())
}

func (s *fixedSelT[T]) update(col arrow.Array, ids []int32, ng int) {
	s.vals, s.has = grow(s.vals, ng), grow(s.has, ng)
	var vals []T
	if b, ok := col.(*array.Boolean); ok {
		s.conv = grow(s.conv, b.Len())[:b.Len()]
		for i := range s.conv {
			s.conv[i] = 0
			if b.Value(i) {
				s.conv[i] = 1
			}
		}
		vals = s.conv
	} else {
		vals = arrow.GetValues[T](col.Data(), 1)
	}
	v := validityOf(col)
	out, has := s.vals, s.has
	switch s.mode {
	case selMin:
		for i, g := range ids {
			if (!v.nulls || v.ok(i)) && (!has[g] || less(vals[i], out[g])) {
				out[g], has[g] = vals[i], true
			}
		}
	case selMax:
		for i, g := range ids {
			if (!v.nulls || v.ok(i)) && (!has[g] || less(out[g], vals[i])) {
				out[g], has[g] = vals[i], true
			}
		}
	case selFirst:
		for i, g := range ids {
			if (!v.nulls || v.ok(i)) && !has[g] {
				out[g], has[g] = vals[i], true
			}
		}
	case selLast:
		for i, g := range ids {
			if !v.nulls || v.ok(i) {
				out[g], has[g] = vals[i], true
			}
		}
	}
}

func (s *fixedSelT[T]) result(mem memory.Allocator, lo, hi int) arrow.Array {
	s.vals, s.has = grow(s.vals, hi), grow(s.has, hi)
	vals, has := s.vals[lo:hi], s.has[lo:hi]
	if s.typ.ID() == arrow.BOOL {
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.Reserve(len(vals))
		for i, x := range vals {
			if has[i] {
				b.UnsafeAppend(x == 1)
			} else {
				b.UnsafeAppendBoolToBitmap(false)
			}
		}
		return b.NewArray()
	}
	return fixedArray(mem, s.typ, vals, has)
}

func (s *fixedSelT[T]) bytes() int64 {
	var z T
	return int64(cap(s.vals))*int64(sizeOf(z)) + int64(cap(s.has)) + int64(cap(s.conv))
}

func sizeOf[T ordered](T) int {
	var z T
	switch any(z).(type) {
	case int8, uint8:
		return 1
	case int16, uint16:
		return 2
	case int32, uint32, float32:
		return 4
	}
	return 8
}

// bytesSel keeps one byte string per group, copied into a buffer owned by
// the group (reused when the value changes, so no per-row allocation once
// the buffer is large enough).
type bytesSel struct {
	mode selMode
	typ  arrow.DataType
	vals [][]byte
	has  []bool
	size int64
}

func (s *bytesSel) update(col arrow.Array, ids []int32, ng int) {
	s.vals, s.has = grow(s.vals, ng), grow(s.has, ng)
	var o32 []int32
	var o64 []int64
	var data []byte
	d := col.Data()
	if b := d.Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	if col.Len() == 0 {
		return
	}
	large := col.DataType().ID() == arrow.LARGE_STRING || col.DataType().ID() == arrow.LARGE_BINARY
	if large {
		o64 = arrow.GetOffsets[int64](d, 1)
	} else {
		o32 = arrow.GetOffsets[int32](d, 1)
	}
	v := validityOf(col)
	for i, g := range ids {
		if v.nulls && !v.ok(i) {
			continue
		}
		var x []byte
		if large {
			x = data[o64[i]:o64[i+1]]
		} else {
			x = data[o32[i]:o32[i+1]]
		}
		take := false
		switch s.mode {
		case selMin:
			take = !s.has[g] || bytes.Compare(x, s.vals[g]) < 0
		case selMax:
			take = !s.has[g] || bytes.Compare(x, s.vals[g]) > 0
		case selFirst:
			take = !s.has[g]
		case selLast:
			take = true
		}
		if take {
			old := cap(s.vals[g])
			s.vals[g] = append(s.vals[g][:0], x...)
			s.size += int64(cap(s.vals[g]) - old)
			s.has[g] = true
		}
	}
}

func (s *bytesSel) result(mem memory.Allocator, lo, hi int) arrow.Array {
	s.vals, s.has = grow(s.vals, hi), grow(s.has, hi)
	b := array.NewBuilder(mem, s.typ)
	defer b.Release()
	var bb *array.BinaryBuilder
	switch x := b.(type) {
	case *array.StringBuilder:
		bb = x.BinaryBuilder
	case *array.LargeStringBuilder:
		bb = x.BinaryBuilder
	case *array.BinaryBuilder:
		bb = x
	}
	bb.Reserve(hi - lo)
	for g := lo; g < hi; g++ {
		if s.has[g] {
			bb.Append(s.vals[g])
		} else {
			bb.AppendNull()
		}
	}
	return b.NewArray()
}

func (s *bytesSel) bytes() int64 { return int64(cap(s.vals))*24 + int64(cap(s.has)) + s.size }

// ---- array construction --------------------------------------------------

func int64Array(mem memory.Allocator, vals []int64, valid []bool) arrow.Array {
	return fixedArray(mem, arrow.PrimitiveTypes.Int64, vals, valid)
}

func float64Array(mem memory.Allocator, vals []float64, valid []bool) arrow.Array {
	return fixedArray(mem, arrow.PrimitiveTypes.Float64, vals, valid)
}

// fixedArray builds an array of typ (whose storage is T) from vals, with
// nulls where valid is false (valid nil: no nulls).
func fixedArray[T ordered](mem memory.Allocator, typ arrow.DataType, vals []T, valid []bool) arrow.Array {
	n := len(vals)
	buf := memory.NewResizableBuffer(mem)
	var z T
	buf.Resize(n * sizeOf(z))
	copy(arrow.GetData[T](buf.Bytes()), vals)
	var vb *memory.Buffer
	nulls := 0
	if valid != nil {
		for _, ok := range valid {
			if !ok {
				nulls++
			}
		}
	}
	if nulls > 0 {
		vb = memory.NewResizableBuffer(mem)
		vb.Resize(int(bitutil.BytesForBits(int64(n))))
		bm := vb.Bytes()
		clear(bm)
		for i, ok := range valid {
			if ok {
				bitutil.SetBit(bm, i)
			}
		}
	}
	data := array.NewData(typ, n, []*memory.Buffer{vb, buf}, nil, nulls, 0)
	a := array.MakeFromData(data)
	data.Release()
	buf.Release()
	if vb != nil {
		vb.Release()
	}
	return a
}
