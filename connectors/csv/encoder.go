package csvconn

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

const (
	// encBufferSize is the write size to the underlying writer.
	encBufferSize = 1 << 20
	// encMinChunk is the fewest rows worth handing to a goroutine.
	encMinChunk = 4096
	// encMaxKeep caps the capacity a chunk buffer keeps between batches.
	encMaxKeep = 16 << 20
)

// Encoder writes record batches as CSV text. It buffers: call Flush at the
// end. It is not safe for concurrent use.
//
// Values are written as: integers and bools as Go prints them; floats as
// the shortest text that reads back to the same value, in plain decimal
// for ordinary magnitudes (12.5, not 1.25e+01; see [batch.AppendFloat]);
// timestamps as RFC 3339 in UTC with a fraction only when needed
// ("2024-01-01T00:00:00.123Z"); dates as 2006-01-02; nulls as empty
// fields; other types as Arrow renders them. A field is quoted when it
// holds the delimiter, a quote, a newline, or leading or trailing space.
//
// # Notes
//
// Write formats a large batch in row ranges on up to GOMAXPROCS
// goroutines, each into its own buffer, and writes the buffers in row
// order; every goroutine it starts has finished when Write returns. One
// formatter per column is chosen once per batch, so the row loop does not
// switch on types.
type Encoder struct {
	w       *bufio.Writer
	delim   byte
	header  bool
	started bool
	// quote marks the bytes that force a field to be quoted.
	quote [256]bool
	// parts are the per-range output buffers, reused across batches.
	parts [][]byte
	// minChunk is the fewest rows handed to a goroutine (encMinChunk;
	// tests lower it).
	minChunk int
}

// NewEncoder returns an Encoder writing to w.
func NewEncoder(w io.Writer, opts WriteOptions) *Encoder {
	d := byte(',')
	if opts.Delimiter > 0 && opts.Delimiter < 128 {
		d = byte(opts.Delimiter)
	}
	e := &Encoder{w: bufio.NewWriterSize(w, encBufferSize), delim: d, header: opts.Header, minChunk: encMinChunk}
	for _, c := range []byte{d, '"', '\n', '\r'} {
		e.quote[c] = true
	}
	return e
}

// Write appends the rows of b (borrowed: the caller keeps ownership). The
// first call writes the header when the options ask for one; later batches
// are expected to have the same columns.
func (e *Encoder) Write(b arrow.RecordBatch) error {
	if !e.started {
		e.started = true
		if e.header {
			var line []byte
			for i, f := range b.Schema().Fields() {
				if i > 0 {
					line = append(line, e.delim)
				}
				line = e.appendField(line, []byte(f.Name))
			}
			line = append(line, '\n')
			if _, err := e.w.Write(line); err != nil {
				return fmt.Errorf("writing csv: %w", err)
			}
		}
	}
	cols := b.Columns()
	n := int(b.NumRows())
	if n == 0 {
		return nil
	}
	k := min(runtime.GOMAXPROCS(0), n/e.minChunk)
	if k < 1 || !parallelSafe(cols) {
		k = 1
	}
	// NullN caches a count it computes lazily: call it here, before
	// other goroutines read the columns.
	nulls := make([]bool, len(cols))
	for i, c := range cols {
		nulls[i] = c.NullN() > 0
	}
	for len(e.parts) < k {
		e.parts = append(e.parts, nil)
	}
	if k == 1 {
		e.parts[0] = e.formatRows(e.parts[0][:0], cols, nulls, 0, n)
	} else {
		var wg sync.WaitGroup
		for j := 1; j < k; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e.parts[j] = e.formatRows(e.parts[j][:0], cols, nulls, j*n/k, (j+1)*n/k)
			}()
		}
		e.parts[0] = e.formatRows(e.parts[0][:0], cols, nulls, 0, n/k)
		wg.Wait()
	}
	for j, p := range e.parts[:k] {
		if _, err := e.w.Write(p); err != nil {
			return fmt.Errorf("writing csv: %w", err)
		}
		if cap(p) > encMaxKeep {
			e.parts[j] = nil
		}
	}
	return nil
}

// Flush writes any buffered data to the underlying writer.
func (e *Encoder) Flush() error {
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("writing csv: %w", err)
	}
	return nil
}

// formatRows appends rows [lo, hi) of cols to dst; nulls[i] says whether
// cols[i] has nulls. It reads only the encoder's immutable settings and
// the columns' buffers, so several calls may run at once.
func (e *Encoder) formatRows(dst []byte, cols []arrow.Array, nulls []bool, lo, hi int) []byte {
	fs := make([]colFormat, len(cols))
	for i, c := range cols {
		fs[i] = e.formatter(c, nulls[i])
	}
	if len(fs) == 0 {
		for r := lo; r < hi; r++ {
			dst = append(dst, '\n')
		}
		return dst
	}
	first, rest := fs[0], fs[1:]
	for r := lo; r < hi; r++ {
		dst = first(dst, r)
		for _, f := range rest {
			dst = append(dst, e.delim)
			dst = f(dst, r)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// colFormat appends the text of row i of one column (nothing for a null).
type colFormat func(dst []byte, i int) []byte

// parallelSafe reports whether every column has a typed formatter; the
// fallback through arrow's ValueStr is kept on one goroutine.
func parallelSafe(cols []arrow.Array) bool {
	for _, c := range cols {
		switch c.(type) {
		case *array.Int64, *array.Int32, *array.Int16, *array.Int8,
			*array.Uint64, *array.Uint32, *array.Uint16, *array.Uint8,
			*array.Float64, *array.Float32, *array.Boolean,
			*array.String, *array.LargeString, *array.Binary,
			*array.Timestamp, *array.Date32, *array.Date64:
		default:
			return false
		}
	}
	return true
}

// formatter returns the formatter of column c, which has nulls when
// nulls is set. The formatter may keep state (a cache of the last date),
// so each goroutine gets its own.
func (e *Encoder) formatter(c arrow.Array, nulls bool) colFormat {
	switch a := c.(type) {
	case *array.Int64:
		return intFormat(a, nulls, a.Int64Values())
	case *array.Int32:
		return intFormat(a, nulls, a.Int32Values())
	case *array.Int16:
		return intFormat(a, nulls, a.Int16Values())
	case *array.Int8:
		return intFormat(a, nulls, a.Int8Values())
	case *array.Uint64:
		return uintFormat(a, nulls, a.Uint64Values())
	case *array.Uint32:
		return uintFormat(a, nulls, a.Uint32Values())
	case *array.Uint16:
		return uintFormat(a, nulls, a.Uint16Values())
	case *array.Uint8:
		return uintFormat(a, nulls, a.Uint8Values())
	case *array.Float64:
		vals := a.Float64Values()
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return appendFloat(dst, vals[i])
		}
	case *array.Float32:
		vals := a.Float32Values()
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return appendFloat(dst, float64(vals[i]))
		}
	case *array.Boolean:
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			if a.Value(i) {
				return append(dst, "true"...)
			}
			return append(dst, "false"...)
		}
	case *array.String:
		offs, data := a.ValueOffsets(), a.ValueBytes()
		base := offs[0]
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return e.appendField(dst, data[offs[i]-base:offs[i+1]-base])
		}
	case *array.LargeString:
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return e.appendField(dst, unsafeBytes(a.Value(i)))
		}
	case *array.Binary:
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return e.appendField(dst, a.Value(i))
		}
	case *array.Timestamp:
		return timestampFormat(a, nulls)
	case *array.Date32:
		vals := a.Date32Values()
		var dc dayCache
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return dc.appendDate(dst, int64(vals[i]))
		}
	case *array.Date64:
		vals := a.Date64Values()
		var dc dayCache
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return dc.appendDate(dst, int64(int32(int64(vals[i])/86_400_000)))
		}
	}
	return func(dst []byte, i int) []byte {
		if c.IsNull(i) {
			return dst
		}
		return e.appendField(dst, []byte(c.ValueStr(i)))
	}
}

func intFormat[T int8 | int16 | int32 | int64](a arrow.Array, nulls bool, vals []T) colFormat {
	return func(dst []byte, i int) []byte {
		if nulls && a.IsNull(i) {
			return dst
		}
		return appendInt(dst, int64(vals[i]))
	}
}

func uintFormat[T uint8 | uint16 | uint32 | uint64](a arrow.Array, nulls bool, vals []T) colFormat {
	return func(dst []byte, i int) []byte {
		if nulls && a.IsNull(i) {
			return dst
		}
		return appendUint(dst, uint64(vals[i]))
	}
}

func timestampFormat(a *array.Timestamp, nulls bool) colFormat {
	vals := a.TimestampValues()
	var dc dayCache
	switch a.DataType().(*arrow.TimestampType).Unit {
	case arrow.Second:
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return dc.appendTimestamp(dst, int64(vals[i])*1_000_000)
		}
	case arrow.Millisecond:
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return dc.appendTimestamp(dst, int64(vals[i])*1000)
		}
	case arrow.Microsecond:
		return func(dst []byte, i int) []byte {
			if nulls && a.IsNull(i) {
				return dst
			}
			return dc.appendTimestamp(dst, int64(vals[i]))
		}
	}
	return func(dst []byte, i int) []byte {
		if nulls && a.IsNull(i) {
			return dst
		}
		v := int64(vals[i])
		if v%1000 == 0 {
			return dc.appendTimestamp(dst, v/1000)
		}
		return time.Unix(0, v).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000000Z")
	}
}

func (e *Encoder) needsQuote(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	if v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t' {
		return true
	}
	for _, c := range v {
		if e.quote[c] {
			return true
		}
	}
	return false
}

func (e *Encoder) appendField(dst, v []byte) []byte {
	if !e.needsQuote(v) {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		dst = append(dst, v[:i+1]...)
		dst = append(dst, '"')
		v = v[i+1:]
	}
	dst = append(dst, v...)
	return append(dst, '"')
}
