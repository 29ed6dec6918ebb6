package expr

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
)

// Type is the static type of an expression.
type Type uint8

// The canonical types. Input columns are normalized on load: every integer
// type to Int (int64), float32/64 to Float (float64), string-like types to
// String, timestamps and dates to Timestamp (µs, UTC), durations to
// Duration (µs).
const (
	Null Type = iota
	Bool
	Int
	Float
	String
	Timestamp
	Duration
)

var typeNames = [...]string{Null: "null", Bool: "bool", Int: "int", Float: "float", String: "string", Timestamp: "timestamp", Duration: "duration"}

func (t Type) String() string { return typeNames[t] }

// Arrow returns the Arrow type of values of t.
func (t Type) Arrow() arrow.DataType {
	switch t {
	case Bool:
		return arrow.FixedWidthTypes.Boolean
	case Int:
		return arrow.PrimitiveTypes.Int64
	case Float:
		return arrow.PrimitiveTypes.Float64
	case String:
		return arrow.BinaryTypes.String
	case Timestamp:
		return arrow.FixedWidthTypes.Timestamp_us
	case Duration:
		return arrow.FixedWidthTypes.Duration_us
	}
	return arrow.Null
}

func isNumeric(t Type) bool { return t == Int || t == Float }

// vec is a column of values of one type, or a scalar (one value standing
// for every row). Which of the slices is used depends on the type:
// i for Int, Timestamp and Duration; f for Float; b (a bitmap) for Bool;
// off and data for String (value k is data[off[k]:off[k+1]]). valid is the
// validity bitmap (bit k set = row k not null); nil means no nulls. A
// scalar's slices hold one value. Vectors returned by nodes are owned by
// the node (or point into the input batch) and are read-only for others.
type vec struct {
	scalar bool
	valid  []byte
	i      []int64
	f      []float64
	b      []byte
	off    []int32
	data   []byte
}

// nullVec is the null scalar of every type.
var nullVec = &vec{scalar: true, valid: []byte{0}, i: []int64{0}, f: []float64{0}, b: []byte{0}, off: []int32{0, 0}}

func (v *vec) isNull() bool { return v.scalar && v.valid != nil && v.valid[0]&1 == 0 }

// validAt reports whether row k is not null.
func (v *vec) validAt(k int) bool {
	if v.valid == nil {
		return true
	}
	if v.scalar {
		return v.valid[0]&1 != 0
	}
	return v.valid[k>>3]>>(k&7)&1 != 0
}

// str returns string value k (scalar: the value) as bytes.
func (v *vec) str(k int) []byte {
	if v.scalar {
		k = 0
	}
	return v.data[v.off[k]:v.off[k+1]]
}

func (v *vec) boolAt(k int) bool {
	if v.scalar {
		return v.b[0]&1 != 0
	}
	return v.b[k>>3]>>(k&7)&1 != 0
}

func (v *vec) intAt(k int) int64 {
	if v.scalar {
		return v.i[0]
	}
	return v.i[k]
}

func (v *vec) floatAt(k int) float64 {
	if v.scalar {
		return v.f[0]
	}
	return v.f[k]
}

// setScalar resets v to hold a scalar (values set by the caller).
func (v *vec) resetScalar() {
	v.scalar = true
	v.valid = nil
}

// bitmap sizing: bitmaps are allocated as whole 64-bit words so word loops
// need no tail handling on node-owned bitmaps.
func bitmapBytes(n int) int { return (n + 63) / 64 * 8 }

func growBytes(s []byte, n int) []byte {
	if cap(s) < n {
		return make([]byte, n, n+n/4)
	}
	return s[:n]
}

func growInts(s []int64, n int) []int64 {
	if cap(s) < n {
		return make([]int64, n, n+n/4)
	}
	return s[:n]
}

func growFloats(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n, n+n/4)
	}
	return s[:n]
}

func growInt32s(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n, n+n/4)
	}
	return s[:n]
}

// bufs are a node's reusable scratch slices.
type bufs struct {
	valid []byte
	b     []byte
	i     []int64
	f     []float64
	off   []int32
	data  []byte
	idx   []int32
}

// Bitmap helpers. nb is a number of bytes; a, b, dst have at least nb.

func load64(b []byte) uint64     { return binary.LittleEndian.Uint64(b) }
func store64(b []byte, v uint64) { binary.LittleEndian.PutUint64(b, v) }

// andBits sets dst = a & b over nb bytes.
func andBits(dst, a, b []byte, nb int) {
	k := 0
	for ; k+8 <= nb; k += 8 {
		store64(dst[k:], load64(a[k:])&load64(b[k:]))
	}
	for ; k < nb; k++ {
		dst[k] = a[k] & b[k]
	}
}

// andNotBits sets dst = a &^ b.
func andNotBits(dst, a, b []byte, nb int) {
	k := 0
	for ; k+8 <= nb; k += 8 {
		store64(dst[k:], load64(a[k:])&^load64(b[k:]))
	}
	for ; k < nb; k++ {
		dst[k] = a[k] &^ b[k]
	}
}

func orBits(dst, a, b []byte, nb int) {
	k := 0
	for ; k+8 <= nb; k += 8 {
		store64(dst[k:], load64(a[k:])|load64(b[k:]))
	}
	for ; k < nb; k++ {
		dst[k] = a[k] | b[k]
	}
}

func notBits(dst, a []byte, nb int) {
	k := 0
	for ; k+8 <= nb; k += 8 {
		store64(dst[k:], ^load64(a[k:]))
	}
	for ; k < nb; k++ {
		dst[k] = ^a[k]
	}
}

func fillBits(dst []byte, v byte, nb int) {
	for k := range dst[:nb] {
		dst[k] = v
	}
}

func anyBits(a []byte, n int) bool {
	nb := n / 8
	k := 0
	for ; k+8 <= nb; k += 8 {
		if load64(a[k:]) != 0 {
			return true
		}
	}
	for ; k < nb; k++ {
		if a[k] != 0 {
			return true
		}
	}
	if r := n % 8; r != 0 && a[nb]&(1<<r-1) != 0 {
		return true
	}
	return false
}

func countBits(a []byte, n int) int {
	c := 0
	nb := n / 8
	k := 0
	for ; k+8 <= nb; k += 8 {
		c += bits.OnesCount64(load64(a[k:]))
	}
	for ; k < nb; k++ {
		c += bits.OnesCount8(a[k])
	}
	if r := n % 8; r != 0 {
		c += bits.OnesCount8(a[nb] & (1<<r - 1))
	}
	return c
}

func getBit(a []byte, k int) bool { return a[k>>3]>>(k&7)&1 != 0 }
func setBit(a []byte, k int)      { a[k>>3] |= 1 << (k & 7) }
func clearBit(a []byte, k int)    { a[k>>3] &^= 1 << (k & 7) }

func b2u(b bool) byte {
	var x byte
	if b {
		x = 1
	}
	return x
}

// combineValid returns the validity of a row-wise operation over args
// (null when any is null), using scratch when two or more bitmaps must be
// combined. The result may alias an argument's bitmap: callers that modify
// it must use ownValid. Scalar nulls must be handled by the caller.
func combineValid(scratch *[]byte, n int, args ...*vec) []byte {
	var first []byte
	count := 0
	for _, a := range args {
		if a.scalar || a.valid == nil {
			continue
		}
		if count == 0 {
			first = a.valid
		} else {
			nb := bitmapBytes(n)
			if count == 1 {
				*scratch = growBytes(*scratch, nb)
				andBits(*scratch, first, a.valid, (n+7)/8)
				first = *scratch
			} else {
				andBits(*scratch, *scratch, a.valid, (n+7)/8)
			}
		}
		count++
	}
	return first
}

// ownValid returns a node-owned copy of valid (all ones when nil) that the
// caller may modify.
func ownValid(scratch *[]byte, valid []byte, n int) []byte {
	nb := bitmapBytes(n)
	if len(valid) > 0 && len(*scratch) > 0 && &valid[0] == &(*scratch)[0] {
		return valid
	}
	*scratch = growBytes(*scratch, nb)
	if valid == nil {
		fillBits(*scratch, 0xFF, nb)
	} else {
		copy(*scratch, valid[:(n+7)/8])
	}
	return *scratch
}

// unsafeString views b as a string without copying; the string must not
// outlive b's contents.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
