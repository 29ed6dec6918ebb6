package csvconn

// refEncoder is the Encoder as it was before it formatted columns with
// pre-resolved formatters on several goroutines: the tests hold the new
// one to its output byte for byte.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/batch"
)

// refEncoder writes record batches as CSV text. It buffers: call Flush at the
// end. It is not safe for concurrent use.
//
// Values are written as: integers and bools as Go prints them; floats as
// the shortest text that reads back to the same value, in plain decimal
// for ordinary magnitudes (12.5, not 1.25e+01; see [batch.AppendFloat]);
// timestamps as RFC 3339 in UTC with a fraction only when needed
// ("2024-01-01T00:00:00.123Z"); dates as 2006-01-02; nulls as empty
// fields; other types as Arrow renders them. A field is quoted when it
// holds the delimiter, a quote, a newline, or leading or trailing space.
type refEncoder struct {
	w       *bufio.Writer
	delim   byte
	header  bool
	started bool
	line    []byte
}

// newRefEncoder returns a refEncoder writing to w.
func newRefEncoder(w io.Writer, opts WriteOptions) *refEncoder {
	d := byte(',')
	if opts.Delimiter > 0 && opts.Delimiter < 128 {
		d = byte(opts.Delimiter)
	}
	return &refEncoder{w: bufio.NewWriterSize(w, 256<<10), delim: d, header: opts.Header}
}

// Write appends the rows of b (borrowed: the caller keeps ownership). The
// first call writes the header when the options ask for one; later batches
// are expected to have the same columns.
func (e *refEncoder) Write(b arrow.RecordBatch) error {
	if !e.started {
		e.started = true
		if e.header {
			e.line = e.line[:0]
			for i, f := range b.Schema().Fields() {
				if i > 0 {
					e.line = append(e.line, e.delim)
				}
				e.line = e.appendField(e.line, []byte(f.Name))
			}
			e.line = append(e.line, '\n')
			if _, err := e.w.Write(e.line); err != nil {
				return fmt.Errorf("writing csv: %w", err)
			}
		}
	}
	cols := b.Columns()
	n := int(b.NumRows())
	for r := 0; r < n; r++ {
		e.line = e.line[:0]
		for i, c := range cols {
			if i > 0 {
				e.line = append(e.line, e.delim)
			}
			e.line = e.appendValue(e.line, c, r)
		}
		e.line = append(e.line, '\n')
		if _, err := e.w.Write(e.line); err != nil {
			return fmt.Errorf("writing csv: %w", err)
		}
	}
	return nil
}

// Flush writes any buffered data to the underlying writer.
func (e *refEncoder) Flush() error {
	if err := e.w.Flush(); err != nil {
		return fmt.Errorf("writing csv: %w", err)
	}
	return nil
}

func (e *refEncoder) needsQuote(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	if v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t' {
		return true
	}
	for _, c := range v {
		if c == e.delim || c == '"' || c == '\n' || c == '\r' {
			return true
		}
	}
	return false
}

func (e *refEncoder) appendField(dst, v []byte) []byte {
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

func (e *refEncoder) appendValue(dst []byte, c arrow.Array, i int) []byte {
	if c.IsNull(i) {
		return dst
	}
	switch a := c.(type) {
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10)
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Int8:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(dst, a.Value(i), 10)
	case *array.Uint32:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Uint16:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Uint8:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Float64:
		return batch.AppendFloat(dst, a.Value(i))
	case *array.Float32:
		return batch.AppendFloat(dst, float64(a.Value(i)))
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i))
	case *array.String:
		return e.appendField(dst, unsafeBytes(a.Value(i)))
	case *array.LargeString:
		return e.appendField(dst, unsafeBytes(a.Value(i)))
	case *array.Binary:
		return e.appendField(dst, a.Value(i))
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		v := int64(a.Value(i))
		switch unit {
		case arrow.Second:
			return batch.AppendTimestamp(dst, v*1_000_000)
		case arrow.Millisecond:
			return batch.AppendTimestamp(dst, v*1000)
		case arrow.Microsecond:
			return batch.AppendTimestamp(dst, v)
		default:
			if v%1000 == 0 {
				return batch.AppendTimestamp(dst, v/1000)
			}
			return time.Unix(0, v).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000000Z")
		}
	case *array.Date32:
		return batch.AppendDate(dst, int32(a.Value(i)))
	case *array.Date64:
		return batch.AppendDate(dst, int32(int64(a.Value(i))/86_400_000))
	}
	return e.appendField(dst, []byte(c.ValueStr(i)))
}
