package csvconn

import (
	"math"
	"strconv"
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
	ok   bool
	day  int64
	text []byte // "2006-01-02T"
}

func (c *dayCache) prefix(day int64) []byte {
	if !c.ok || day != c.day {
		c.text = time.Unix(day*86400, 0).UTC().AppendFormat(c.text[:0], "2006-01-02T")
		c.day, c.ok = day, true
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
	dst = append(dst, c.prefix(day)...)
	h, m, s := sod/3600, sod/60%60, sod%60
	dst = append(dst, pairs[2*h], pairs[2*h+1], ':', pairs[2*m], pairs[2*m+1], ':', pairs[2*s], pairs[2*s+1])
	if frac != 0 {
		if frac%1000 == 0 {
			ms := frac / 1000
			dst = append(dst, '.', byte('0'+ms/100), pairs[2*(ms%100)], pairs[2*(ms%100)+1])
		} else {
			hi, lo := frac/10000, frac%10000
			dst = append(dst, '.', pairs[2*hi], pairs[2*hi+1],
				pairs[2*(lo/100)], pairs[2*(lo/100)+1], pairs[2*(lo%100)], pairs[2*(lo%100)+1])
		}
	}
	return append(dst, 'Z')
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
	dst = strconv.AppendUint(dst, m/scale, 10)
	frac := m % scale
	if frac == 0 {
		return dst
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
