package batch

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
)

// Inferrer infers a column's type from sample text values, widening as it
// sees them: int64 if every non-null value is an integer, float64 if every
// one is a number, bool if every one is true/false (any case), timestamp if
// every one is a timestamp [ParseTimestamp] accepts, otherwise string. A
// column with no non-null sample is string. The zero value is ready.
type Inferrer struct {
	seen                             bool
	notInt, notFloat, notBool, notTS bool
}

// Observe records one non-null sample value.
func (f *Inferrer) Observe(b []byte) {
	f.seen = true
	if f.notFloat && f.notBool && f.notTS {
		return // already string
	}
	if !f.notInt {
		if _, ok := ParseInt(b); ok {
			f.notBool, f.notTS = true, true
			return
		}
		f.notInt = true
	}
	if !f.notFloat {
		if _, ok := ParseFloat(b); ok {
			f.notBool, f.notTS = true, true
			return
		}
		f.notFloat = true
	}
	if !f.notBool {
		if IsBoolText(b) {
			f.notInt, f.notFloat, f.notTS = true, true, true
			return
		}
		f.notBool = true
	}
	if !f.notTS {
		if _, ok := ParseTimestamp(b); ok {
			f.notInt, f.notFloat, f.notBool = true, true, true
			return
		}
		f.notTS = true
	}
	f.notInt, f.notFloat, f.notBool, f.notTS = true, true, true, true
}

// Seen reports whether any non-null value was observed.
func (f *Inferrer) Seen() bool { return f.seen }

// Type returns the inferred type.
func (f *Inferrer) Type() arrow.DataType {
	switch {
	case !f.seen:
		return arrow.BinaryTypes.String
	case !f.notInt:
		return arrow.PrimitiveTypes.Int64
	case !f.notFloat:
		return arrow.PrimitiveTypes.Float64
	case !f.notBool:
		return arrow.FixedWidthTypes.Boolean
	case !f.notTS:
		return Timestamp
	}
	return arrow.BinaryTypes.String
}

// WidenText returns the type that holds values of both a and b when both
// were inferred from text: equal types stay, int64 and float64 give
// float64, timestamp and date give timestamp, anything else gives string.
// A nil type (no information) yields the other.
func WidenText(a, b arrow.DataType) arrow.DataType {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case arrow.TypeEqual(a, b):
		return a
	}
	ia, ib := a.ID(), b.ID()
	if (ia == arrow.INT64 && ib == arrow.FLOAT64) || (ia == arrow.FLOAT64 && ib == arrow.INT64) {
		return arrow.PrimitiveTypes.Float64
	}
	if (ia == arrow.TIMESTAMP && ib == arrow.DATE32) || (ia == arrow.DATE32 && ib == arrow.TIMESTAMP) {
		return Timestamp
	}
	return arrow.BinaryTypes.String
}

// unsafeString views b as a string without copying. The string must not
// outlive b's contents (callers use it only for the duration of a parse).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
