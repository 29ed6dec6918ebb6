package operators

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

const filterName = "filter.apply"

// cmpOp is a comparison operator of filter.apply's original form.
type cmpOp uint8

const (
	opEq cmpOp = iota + 1
	opNe
	opLt
	opLe
	opGt
	opGe
	opContains
	opIn
)

// filterOperators maps every accepted spelling to its operator.
var filterOperators = map[string]cmpOp{
	"==": opEq, "=": opEq, "!=": opNe, "<>": opNe,
	"<": opLt, "<=": opLe, ">": opGt, ">=": opGe,
	"contains": opContains, "in": opIn,
}

var cmpOpText = [...]string{opEq: "==", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=", opContains: "contains", opIn: "in"}

func (o cmpOp) String() string { return cmpOpText[o] }

// selector writes one bit per row of b into out (1 = keep the row). Rows
// whose compared value is null must get 0. out has room for b.NumRows()
// bits; bits past the last row are ignored.
type selector func(mem memory.Allocator, b arrow.RecordBatch, out []byte) error

// predicateBinder binds a filter's condition to a schema. The original form
// (column/operator/value) is one binder; the expression language provides
// another.
type predicateBinder func(schema *arrow.Schema) (selector, error)

// filterOp is filter.apply's Transformer. It is not safe for concurrent
// use (one stage, one goroutine).
type filterOp struct {
	bind   predicateBinder
	schema *arrow.Schema // schema sel was bound to
	sel    selector
	idx    []int32 // row index scratch, reused across batches
}

func newFilter(cfg flow.Config, env flow.BuildEnv) (any, error) {
	if cfg.Has("expr") {
		return newExprFilter(cfg, env)
	}
	op, ok := filterOperators[cfg.Str("operator")]
	if !ok {
		return nil, fmt.Errorf("%s: operator %q: %w", filterName, cfg.Str("operator"), ErrTypeMismatch)
	}
	c := comparison{column: cfg.Str("column"), op: op, value: cfg["value"]}
	return &filterOp{bind: c.bind}, nil
}

// Transform keeps the rows of in where the condition holds. It borrows in:
// when every row passes, it Retains and returns in; when none does, it
// returns nil; otherwise it returns a new batch allocated from st.Alloc.
func (f *filterOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if f.schema == nil || (f.schema != in.Schema() && !f.schema.Equal(in.Schema())) {
		sel, err := f.bind(in.Schema())
		if err != nil {
			return nil, err
		}
		f.schema, f.sel = in.Schema(), sel
	}
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	buf := memory.NewResizableBuffer(st.Alloc)
	defer buf.Release()
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	if err := f.sel(st.Alloc, in, bits); err != nil {
		return nil, fmt.Errorf("%s: %w", filterName, err)
	}
	switch bitutil.CountSetBits(bits, 0, n) {
	case n:
		in.Retain()
		return in, nil
	case 0:
		return nil, nil
	}
	out, err := f.take(ctx, st.Alloc, in, bits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filterName, err)
	}
	return out, nil
}

// take returns the rows of in whose bit is set. Fixed-width columns are
// gathered by hand (one pass per column over the selected row indices);
// other types go through arrow's compute.TakeArray.
func (f *filterOp) take(ctx context.Context, mem memory.Allocator, in arrow.RecordBatch, bits []byte) (arrow.RecordBatch, error) {
	n := int(in.NumRows())
	if cap(f.idx) < n+8 {
		f.idx = make([]int32, n+8)
	}
	// Compaction eight rows at a time: write the positions of a byte's set
	// bits (always eight slots, hence the slack), advance by its popcount.
	all, k := f.idx[:n+8], 0
	for bi, b := range bits[:(n+7)/8] {
		if bi == n/8 { // the last partial byte: drop bits past n
			b &= byte(1<<(n%8)) - 1
		}
		pos, base := &bitPositions[b], int32(bi*8)
		dst := all[k : k+8 : k+8]
		for j := range dst {
			dst[j] = base + int32(pos[j])
		}
		k += int(bitCounts[b])
	}
	idx := all[:k]
	var idxArr arrow.Array // built on first use
	defer func() {
		if idxArr != nil {
			idxArr.Release()
		}
	}()
	cols := make([]arrow.Array, in.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, col := range in.Columns() {
		if c := gatherFixed(mem, col, idx); c != nil {
			cols[i] = c
			continue
		}
		if c := gatherString(mem, col, idx); c != nil {
			cols[i] = c
			continue
		}
		if idxArr == nil {
			ib := array.NewInt32Builder(mem)
			ib.AppendValues(idx, nil)
			idxArr = ib.NewArray()
			ib.Release()
		}
		c, err := compute.TakeArray(compute.WithAllocator(ctx, mem), col, idxArr)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	return array.NewRecordBatch(in.Schema(), cols, int64(len(idx))), nil
}

// gatherFixed returns the rows idx of a fixed-width primitive column
// (integers, floats, dates, times, timestamps, durations) as a new array,
// or nil for any other type.
func gatherFixed(mem memory.Allocator, col arrow.Array, idx []int32) arrow.Array {
	dt := col.DataType()
	switch {
	case arrow.IsInteger(dt.ID()), arrow.IsFloating(dt.ID()):
	default:
		switch dt.ID() {
		case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		default:
			return nil
		}
	}
	width := dt.(arrow.FixedWidthDataType).BitWidth() / 8
	data := col.Data()
	values := memory.NewResizableBuffer(mem)
	defer values.Release()
	values.Resize(len(idx) * width)
	switch width {
	case 1:
		gather(arrow.GetValues[uint8](data, 1), idx, arrow.GetData[uint8](values.Bytes()))
	case 2:
		gather(arrow.GetValues[uint16](data, 1), idx, arrow.GetData[uint16](values.Bytes()))
	case 4:
		gather(arrow.GetValues[uint32](data, 1), idx, arrow.GetData[uint32](values.Bytes()))
	case 8:
		gather(arrow.GetValues[uint64](data, 1), idx, arrow.GetData[uint64](values.Bytes()))
	default:
		return nil
	}
	var valid *memory.Buffer
	nulls := 0
	if col.NullN() > 0 {
		valid = memory.NewResizableBuffer(mem)
		defer valid.Release()
		valid.Resize(int(bitutil.BytesForBits(int64(len(idx)))))
		vb, src, off := valid.Bytes(), col.NullBitmapBytes(), data.Offset()
		for i := range vb {
			vb[i] = 0
		}
		for k, r := range idx {
			if bitutil.BitIsSet(src, off+int(r)) {
				bitutil.SetBit(vb, k)
			} else {
				nulls++
			}
		}
	}
	out := array.NewData(dt, len(idx), []*memory.Buffer{valid, values}, nil, nulls, 0)
	defer out.Release()
	return array.MakeFromData(out)
}

// gatherString returns the rows idx of a string or binary column (32-bit
// offsets) as a new array, or nil for any other type: one pass sizes the
// data, a second copies it.
func gatherString(mem memory.Allocator, col arrow.Array, idx []int32) arrow.Array {
	switch col.DataType().ID() {
	case arrow.STRING, arrow.BINARY:
	default:
		return nil
	}
	data := col.Data()
	offs := arrow.Int32Traits.CastFromBytes(data.Buffers()[1].Bytes())[data.Offset():]
	var src []byte
	if b := data.Buffers()[2]; b != nil {
		src = b.Bytes()
	}
	total := 0
	for _, r := range idx {
		total += int(offs[r+1] - offs[r])
	}
	offBuf := memory.NewResizableBuffer(mem)
	defer offBuf.Release()
	offBuf.Resize((len(idx) + 1) * 4)
	dstOff := arrow.Int32Traits.CastFromBytes(offBuf.Bytes())
	valBuf := memory.NewResizableBuffer(mem)
	defer valBuf.Release()
	valBuf.Resize(total)
	dst := valBuf.Bytes()
	pos := int32(0)
	for k, r := range idx {
		dstOff[k] = pos
		pos += int32(copy(dst[pos:], src[offs[r]:offs[r+1]]))
	}
	dstOff[len(idx)] = pos
	var valid *memory.Buffer
	nulls := 0
	if col.NullN() > 0 {
		valid = memory.NewResizableBuffer(mem)
		defer valid.Release()
		valid.Resize(int(bitutil.BytesForBits(int64(len(idx)))))
		vb, bm, off := valid.Bytes(), col.NullBitmapBytes(), data.Offset()
		clear(vb)
		for k, r := range idx {
			if bitutil.BitIsSet(bm, off+int(r)) {
				bitutil.SetBit(vb, k)
			} else {
				nulls++
			}
		}
	}
	out := array.NewData(col.DataType(), len(idx), []*memory.Buffer{valid, offBuf, valBuf}, nil, nulls, 0)
	defer out.Release()
	return array.MakeFromData(out)
}

// bitPositions[b] lists the positions of b's set bits, in order (unused
// slots are 0); bitCounts[b] is their number.
var bitPositions, bitCounts = func() (p [256][8]uint8, c [256]uint8) {
	for b := range 256 {
		for j := range 8 {
			if b&(1<<j) != 0 {
				p[b][c[b]] = uint8(j)
				c[b]++
			}
		}
	}
	return p, c
}()

func gather[T uint8 | uint16 | uint32 | uint64](src []T, idx []int32, dst []T) {
	dst = dst[:len(idx)]
	for k, r := range idx {
		dst[k] = src[r]
	}
}

// timeIn converts t to an intConst in the given unit since the epoch.
func timeIn(t time.Time, unit arrow.TimeUnit) intConst {
	sec, ns := t.Unix(), int64(t.Nanosecond())
	switch unit {
	case arrow.Second:
		return intConst{v: sec, frac: ns != 0}
	case arrow.Millisecond:
		return intConst{v: sec*1e3 + ns/1e6, frac: ns%1e6 != 0}
	case arrow.Microsecond:
		return intConst{v: sec*1e6 + ns/1e3, frac: ns%1e3 != 0}
	}
	return intConst{v: sec*1e9 + ns}
}

// daysOf converts t to days since the epoch (UTC).
func daysOf(t time.Time) intConst {
	sec := t.Unix()
	d := sec / 86400
	if sec%86400 < 0 {
		d--
	}
	return intConst{v: d, frac: sec-d*86400 != 0 || t.Nanosecond() != 0}
}

// timeLayouts are the accepted spellings of a date-time value.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"}

// parseTime parses an RFC 3339 date-time (or a date, or either without a
// zone, read as UTC).
func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("value %q is not an RFC 3339 date-time", s)
}

// describeValue renders a config value with its TOML type for messages.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q (a string)", x)
	case int64, float64:
		return fmt.Sprintf("%v (a number)", x)
	case bool:
		return fmt.Sprintf("%v (a bool)", x)
	case []any:
		return fmt.Sprintf("%v (a list)", x)
	case time.Time:
		return fmt.Sprintf("%s (a date-time)", x.Format(time.RFC3339Nano))
	case nil:
		return "(missing)"
	}
	return fmt.Sprintf("%v (%T)", v, v)
}

// checkFilter is filter.apply's cross-parameter validation: exactly one of
// expr or column/operator/value, and a value that suits the operator.
func checkFilter(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	add := func(key, format string, args ...any) {
		errs = append(errs, &flow.ConfigError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	orig := cfg.Has("column") || cfg.Has("operator") || cfg.Has("value")
	if cfg.Has("expr") {
		if orig {
			add("expr", "give either expr or column/operator/value, not both")
		}
		return errs
	}
	for _, k := range []string{"column", "operator", "value"} {
		if !cfg.Has(k) {
			add(k, "required parameter of filter.apply is missing (give column, operator and value, or expr)")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	op := filterOperators[cfg.Str("operator")]
	_, isList := cfg["value"].([]any)
	switch {
	case op == opIn && !isList:
		add("value", "operator \"in\" needs a list, got %s", describeValue(cfg["value"]))
	case op != opIn && isList:
		add("value", "a list value needs operator \"in\", got %q", cfg.Str("operator"))
	case op == opContains:
		if _, ok := cfg["value"].(string); !ok {
			add("value", "operator \"contains\" needs a string, got %s", describeValue(cfg["value"]))
		}
	}
	if _, isMap := cfg["value"].(map[string]any); isMap {
		add("value", "must be a string, number, bool, date-time or list, got a table")
	}
	return errs
}
