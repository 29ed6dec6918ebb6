package csvconn

import (
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/conveyor-etl/conveyor/batch"
)

// The functions here write the same text as batch.AppendTimestamp,
// batch.AppendDate and batch.AppendFloat, faster for the common cases; the
// tests compare them on random values.

// pairs holds "00" to "99".
const pairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// dayCache remembers the text of the last day formatted: the rows of a
// batch tend to share their date.
type dayCache struct {
	ok    bool
	day   int64
	text  []byte   // "2006-01-02T"
	fixed [16]byte // text when it is 11 bytes long (years 0 to 9999)
}

func (c *dayCache) prefix(day int64) []byte {
	if !c.ok || day != c.day {
		c.text = time.Unix(day*86400, 0).UTC().AppendFormat(c.text[:0], "2006-01-02T")
		c.day, c.ok = day, true
		copy(c.fixed[:], c.text)
	}
	return c.text
}

// appendTimestamp is batch.AppendTimestamp.
func (c *dayCache) appendTimestamp(dst []byte, us int64) []byte {
	secs := us / 1_000_000
	frac := us % 1_000_000
	if frac < 0 {
		frac += 1_000_000
		secs--
	}
	day := secs / 86400
	sod := secs % 86400
	if sod < 0 {
		sod += 86400
		day--
	}
	p := c.prefix(day)
	if len(p) != 11 {
		return batch.AppendTimestamp(dst, us)
	}
	n := len(dst)
	dst = slices.Grow(dst, 32)[:n+32]
	b := dst[n:]
	*(*[16]byte)(b) = c.fixed
	h, m, s := sod/3600, sod/60%60, sod%60
	b[11], b[12], b[13] = pairs[2*h], pairs[2*h+1], ':'
	b[14], b[15], b[16] = pairs[2*m], pairs[2*m+1], ':'
	b[17], b[18] = pairs[2*s], pairs[2*s+1]
	switch {
	case frac == 0:
		b[19] = 'Z'
		return dst[:n+20]
	case frac%1000 == 0:
		ms := frac / 1000
		b[19], b[20] = '.', byte('0'+ms/100)
		b[21], b[22], b[23] = pairs[2*(ms%100)], pairs[2*(ms%100)+1], 'Z'
		return dst[:n+24]
	}
	hi, mid, lo := frac/10000, frac/100%100, frac%100
	b[19], b[20], b[21] = '.', pairs[2*hi], pairs[2*hi+1]
	b[22], b[23] = pairs[2*mid], pairs[2*mid+1]
	b[24], b[25], b[26] = pairs[2*lo], pairs[2*lo+1], 'Z'
	return dst[:n+27]
}

// appendDate is batch.AppendDate.
func (c *dayCache) appendDate(dst []byte, days int64) []byte {
	p := c.prefix(days)
	return append(dst, p[:len(p)-1]...)
}

// appendFloat is batch.AppendFloat. A value with at most 2 (or 6)
// decimals and a magnitude small enough that no other decimal of that
// many places reads back to it is printed from its integer scaled value:
// that decimal is then the shortest one that round-trips.
func appendFloat(dst []byte, f float64) []byte {
	a := math.Abs(f)
	if a >= 1e-6 && a < 1e13 {
		if m := math.Round(a * 100); m/100 == a {
			return appendScaled(dst, f < 0, uint64(m), 100, 2)
		}
		if a < 1e9 {
			if m := math.Round(a * 1e6); m/1e6 == a {
				return appendScaled(dst, f < 0, uint64(m), 1e6, 6)
			}
		}
	}
	return batch.AppendFloat(dst, f)
}

// appendScaled appends m/scale, scale being 10^places, without trailing
// zeros in the fraction.
func appendScaled(dst []byte, neg bool, m, scale uint64, places int) []byte {
	if neg {
		dst = append(dst, '-')
	}
	dst = appendUint(dst, m/scale)
	frac := m % scale
	if frac == 0 {
		return dst
	}
	if places == 2 {
		if frac%10 == 0 {
			return append(dst, '.', byte('0'+frac/10))
		}
		return append(dst, '.', pairs[2*frac], pairs[2*frac+1])
	}
	for frac%10 == 0 {
		frac /= 10
		places--
	}
	var buf [8]byte
	for i := places - 1; i >= 0; i-- {
		buf[i] = byte('0' + frac%10)
		frac /= 10
	}
	dst = append(dst, '.')
	return append(dst, buf[:places]...)
}

var pow10 = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// appendUint is strconv.AppendUint(dst, u, 10), writing in place.
func appendUint(dst []byte, u uint64) []byte {
	if u < 10 {
		return append(dst, byte('0'+u))
	}
	t := bits.Len64(u) * 1233 >> 12
	if u >= pow10[t] {
		t++
	}
	n := len(dst)
	dst = slices.Grow(dst, t)[:n+t]
	b := dst[n:]
	i := t
	for u >= 100 {
		q := u / 100
		r := u - q*100
		i -= 2
		b[i], b[i+1] = pairs[2*r], pairs[2*r+1]
		u = q
	}
	if u >= 10 {
		b[0], b[1] = pairs[2*u], pairs[2*u+1]
	} else {
		b[0] = byte('0' + u)
	}
	return dst
}

// appendInt is strconv.AppendInt(dst, v, 10).
func appendInt(dst []byte, v int64) []byte {
	if v < 0 {
		return appendUint(append(dst, '-'), -uint64(v))
	}
	return appendUint(dst, uint64(v))
}
