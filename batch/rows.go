package batch

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// MetaJSON is the field metadata key marking a string column whose values
// are JSON text (nested objects or arrays found by JSON inference). Writers
// of JSON emit such values as nested JSON rather than as strings.
const MetaJSON = "conveyor.json"

// IsJSONField reports whether f is a string column marked with MetaJSON.
func IsJSONField(f arrow.Field) bool {
	if f.Type == nil || (f.Type.ID() != arrow.STRING && f.Type.ID() != arrow.LARGE_STRING) {
		return false
	}
	v, ok := f.Metadata.GetValue(MetaJSON)
	return ok && v == "true"
}

// Builder builds record batches of a fixed schema from decoded JSON rows,
// one row at a time. It is not safe for concurrent use.
//
// Values may be nil, bool, json.Number, float64, int, int64, string,
// time.Time, json.RawMessage, map[string]any or []any (as produced by
// DecodeObject, or by encoding/json with or without UseNumber). Conversions:
//
//   - integer columns take integral numbers and strings holding integers,
//     within the column's range;
//   - float columns take numbers and numeric strings;
//   - bool columns take booleans and the strings "true"/"false";
//   - string columns take anything: numbers keep their JSON text, objects
//     and arrays become their JSON text;
//   - timestamp columns take strings in RFC 3339 or a common date form
//     (read as UTC when they carry no offset), time.Time, and integers
//     counted in the column's unit since the Unix epoch;
//   - date32 columns take the same strings (the date part is kept).
//
// A missing key or a nil value appends a null.
type Builder struct {
	schema *arrow.Schema
	rb     *array.RecordBuilder
	vals   []any
	n      int
}

// NewBuilder returns a Builder for schema. It fails with ErrUnsupportedType
// when a column type is not one Builder converts to. The caller must call
// Release.
func NewBuilder(mem memory.Allocator, schema *arrow.Schema) (*Builder, error) {
	for _, f := range schema.Fields() {
		if !buildable(f.Type) {
			return nil, fmt.Errorf("column %q: %w %s", f.Name, ErrUnsupportedType, f.Type)
		}
	}
	return &Builder{schema: schema, rb: array.NewRecordBuilder(mem, schema), vals: make([]any, schema.NumFields())}, nil
}

func buildable(dt arrow.DataType) bool {
	id := dt.ID()
	switch {
	case isInteger(id), id == arrow.FLOAT32, id == arrow.FLOAT64, id == arrow.BOOL,
		id == arrow.STRING, id == arrow.LARGE_STRING, id == arrow.TIMESTAMP, id == arrow.DATE32, id == arrow.NULL:
		return true
	}
	return false
}

// Schema is the schema of the batches built.
func (b *Builder) Schema() *arrow.Schema { return b.schema }

// Len is the number of rows appended since the last NewBatch.
func (b *Builder) Len() int { return b.n }

// Append adds one row. It is atomic: when a value does not fit its column
// it returns a *ValueError (wrapping ErrTypeMismatch) and appends nothing.
// Keys of row that are not columns of the schema are ignored.
func (b *Builder) Append(row map[string]any) error {
	for i, f := range b.schema.Fields() {
		v, err := convert(row[f.Name], f.Type)
		if err != nil {
			return &ValueError{Column: f.Name, Value: row[f.Name], Type: f.Type, Reason: err}
		}
		b.vals[i] = v
	}
	for i := range b.vals {
		appendConverted(b.rb.Field(i), b.vals[i])
		b.vals[i] = nil
	}
	b.n++
	return nil
}

// NewBatch returns the rows appended so far as a batch (owned by the
// caller) and resets the builder. It returns a zero-row batch when nothing
// was appended.
func (b *Builder) NewBatch() arrow.RecordBatch {
	b.n = 0
	return b.rb.NewRecordBatch()
}

// Release frees the builder's buffers.
func (b *Builder) Release() { b.rb.Release() }

// FromRows builds one batch of schema from rows. The caller owns the
// result. The first row that does not fit fails the whole call with a
// *ValueError whose message names the row index.
func FromRows(mem memory.Allocator, schema *arrow.Schema, rows []map[string]any) (arrow.RecordBatch, error) {
	b, err := NewBuilder(mem, schema)
	if err != nil {
		return nil, err
	}
	defer b.Release()
	for i, r := range rows {
		if err := b.Append(r); err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
	}
	return b.NewBatch(), nil
}

// convert normalises v for a column of type dt: int64 for signed
// integers, uint64 for unsigned, float64, bool, string, int64 (in the
// column's unit) for timestamps, int32 for date32; nil for null.
func convert(v any, dt arrow.DataType) (any, error) {
	if v == nil {
		return nil, nil
	}
	id := dt.ID()
	switch {
	case id == arrow.NULL:
		return nil, fmt.Errorf("column holds only nulls")
	case isInteger(id):
		return toInteger(v, dt)
	case id == arrow.FLOAT32 || id == arrow.FLOAT64:
		return toFloat(v)
	case id == arrow.BOOL:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, errNotA("a boolean")
	case id == arrow.STRING || id == arrow.LARGE_STRING:
		return toText(v)
	case id == arrow.TIMESTAMP:
		unit := dt.(*arrow.TimestampType).Unit
		switch x := v.(type) {
		case time.Time:
			ts, err := arrow.TimestampFromTime(x, unit)
			return int64(ts), err
		case string:
			t, ok := parseTimeText(x)
			if !ok {
				return nil, errNotA("a timestamp")
			}
			ts, err := arrow.TimestampFromTime(t, unit)
			return int64(ts), err
		}
		n, err := toInteger(v, arrow.PrimitiveTypes.Int64)
		if err != nil {
			return nil, errNotA("a timestamp")
		}
		return n, nil
	case id == arrow.DATE32:
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case string:
			var ok bool
			if t, ok = parseTimeText(x); !ok {
				return nil, errNotA("a date")
			}
		default:
			return nil, errNotA("a date")
		}
		return int32(arrow.Date32FromTime(t)), nil
	}
	return nil, ErrUnsupportedType
}

type notA string

func (e notA) Error() string { return "not " + string(e) }

func errNotA(what string) error { return notA(what) }

func toInteger(v any, dt arrow.DataType) (any, error) {
	var (
		i     int64
		u     uint64
		isU   bool
		valid bool
	)
	switch x := v.(type) {
	case json.Number:
		return toInteger(string(x), dt)
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			i, valid = n, true
		} else if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			u, isU, valid = n, true, true
		} else if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			i, valid = int64(f), true
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			i, valid = int64(x), true
		}
	case int:
		i, valid = int64(x), true
	case int64:
		i, valid = x, true
	case uint64:
		u, isU, valid = x, true, true
	}
	if !valid {
		return nil, errNotA("an integer")
	}
	lo, hi, unsigned := intRange(dt.ID())
	if unsigned {
		if isU {
			if u > uint64(hi) && dt.ID() != arrow.UINT64 {
				return nil, errNotA("in range")
			}
			return u, nil
		}
		if i < 0 || (dt.ID() != arrow.UINT64 && i > hi) {
			return nil, errNotA("in range")
		}
		return uint64(i), nil
	}
	if isU {
		if u > uint64(hi) {
			return nil, errNotA("in range")
		}
		i = int64(u)
	}
	if i < lo || i > hi {
		return nil, errNotA("in range")
	}
	return i, nil
}

func intRange(id arrow.Type) (lo, hi int64, unsigned bool) {
	switch id {
	case arrow.INT8:
		return math.MinInt8, math.MaxInt8, false
	case arrow.INT16:
		return math.MinInt16, math.MaxInt16, false
	case arrow.INT32:
		return math.MinInt32, math.MaxInt32, false
	case arrow.UINT8:
		return 0, math.MaxUint8, true
	case arrow.UINT16:
		return 0, math.MaxUint16, true
	case arrow.UINT32:
		return 0, math.MaxUint32, true
	case arrow.UINT64:
		return 0, math.MaxInt64, true
	}
	return math.MinInt64, math.MaxInt64, false
}

func toFloat(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f, nil
		}
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, nil
		}
	}
	return nil, errNotA("a number")
}

func toText(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return string(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		return string(appendFloat(nil, x, 64)), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case json.RawMessage:
		return string(x), nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(js), nil
}

func appendConverted(fb array.Builder, v any) {
	if v == nil {
		fb.AppendNull()
		return
	}
	switch b := fb.(type) {
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Int32Builder:
		b.Append(int32(v.(int64)))
	case *array.Int16Builder:
		b.Append(int16(v.(int64)))
	case *array.Int8Builder:
		b.Append(int8(v.(int64)))
	case *array.Uint64Builder:
		b.Append(v.(uint64))
	case *array.Uint32Builder:
		b.Append(uint32(v.(uint64)))
	case *array.Uint16Builder:
		b.Append(uint16(v.(uint64)))
	case *array.Uint8Builder:
		b.Append(uint8(v.(uint64)))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.Float32Builder:
		b.Append(float32(v.(float64)))
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.LargeStringBuilder:
		b.Append(v.(string))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.(int64)))
	case *array.Date32Builder:
		b.Append(arrow.Date32(v.(int32)))
	default:
		fb.AppendNull()
	}
}

// Row returns row i of b as a map from column name to a JSON-ready value:
// nil, bool, int64, uint64, float64, string; timestamps as RFC 3339 strings
// in UTC, dates as "2006-01-02"; NaN and ±Inf as the strings "NaN", "+Inf",
// "-Inf"; values of MetaJSON columns as json.RawMessage; other types as
// arrow's JSON form. b is borrowed.
func Row(b arrow.RecordBatch, i int) map[string]any {
	m := make(map[string]any, b.NumCols())
	for c, f := range b.Schema().Fields() {
		m[f.Name] = valueOf(b.Column(c), i, IsJSONField(f))
	}
	return m
}

// Rows returns every row of b (see Row).
func Rows(b arrow.RecordBatch) []map[string]any {
	out := make([]map[string]any, b.NumRows())
	for i := range out {
		out[i] = Row(b, i)
	}
	return out
}

// Value returns the value of arr at row i in the form Row uses.
func Value(arr arrow.Array, i int) any { return valueOf(arr, i, false) }

func valueOf(arr arrow.Array, i int, isJSON bool) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Uint64:
		return a.Value(i)
	case *array.Uint32:
		return uint64(a.Value(i))
	case *array.Uint16:
		return uint64(a.Value(i))
	case *array.Uint8:
		return uint64(a.Value(i))
	case *array.Float64:
		return floatValue(a.Value(i))
	case *array.Float32:
		return floatValue(float64(a.Value(i)))
	case *array.Boolean:
		return a.Value(i)
	case *array.String:
		if isJSON && json.Valid([]byte(a.Value(i))) {
			return json.RawMessage(a.Value(i))
		}
		return a.Value(i)
	case *array.LargeString:
		if isJSON && json.Valid([]byte(a.Value(i))) {
			return json.RawMessage(a.Value(i))
		}
		return a.Value(i)
	case *array.Timestamp, *array.Date32, *array.Date64:
		return FormatValue(arr, i)
	}
	return arr.GetOneForMarshal(i)
}

func floatValue(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return f
}

// AppendRowJSON appends row i of b to dst as one JSON object with keys in
// schema order, and returns the extended buffer. Values are encoded as Row
// describes; b is borrowed.
func AppendRowJSON(dst []byte, b arrow.RecordBatch, i int) []byte {
	dst = append(dst, '{')
	for c, f := range b.Schema().Fields() {
		if c > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		dst = appendValueJSON(dst, b.Column(c), i, IsJSONField(f))
	}
	return append(dst, '}')
}

// AppendValueJSON appends the JSON encoding of arr at row i to dst.
func AppendValueJSON(dst []byte, arr arrow.Array, i int) []byte {
	return appendValueJSON(dst, arr, i, false)
}

func appendValueJSON(dst []byte, arr arrow.Array, i int, isJSON bool) []byte {
	if arr.IsNull(i) {
		return append(dst, "null"...)
	}
	switch a := arr.(type) {
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
		return appendFloatJSON(dst, a.Value(i), 64)
	case *array.Float32:
		return appendFloatJSON(dst, float64(a.Value(i)), 32)
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i))
	case *array.String:
		if isJSON && json.Valid([]byte(a.Value(i))) {
			return append(dst, a.Value(i)...)
		}
		return appendJSONString(dst, a.Value(i))
	case *array.LargeString:
		if isJSON && json.Valid([]byte(a.Value(i))) {
			return append(dst, a.Value(i)...)
		}
		return appendJSONString(dst, a.Value(i))
	case *array.Timestamp, *array.Date32, *array.Date64:
		return appendJSONString(dst, FormatValue(arr, i))
	}
	js, err := json.Marshal(arr.GetOneForMarshal(i))
	if err != nil {
		return appendJSONString(dst, arr.ValueStr(i))
	}
	return append(dst, js...)
}

func appendFloatJSON(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendJSONString(dst, floatValue(f).(string))
	}
	return appendFloat(dst, f, bits)
}

// appendFloat formats f as encoding/json does: shortest representation,
// exponent form only for very small or very large magnitudes.
func appendFloat(dst []byte, f float64, bits int) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; control characters and U+2028/U+2029 are escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
