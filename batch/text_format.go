package batch

import (
	"math"
	"strconv"
	"time"
)

// AppendTimestamp appends the RFC 3339 form of a microsecond timestamp in
// UTC: "2006-01-02T15:04:05Z", with a fraction of 3 or 6 digits only when
// needed ("...05.123Z", "...05.123456Z").
func AppendTimestamp(dst []byte, us int64) []byte {
	secs := us / 1_000_000
	frac := us % 1_000_000
	if frac < 0 {
		frac += 1_000_000
		secs--
	}
	t := time.Unix(secs, 0).UTC()
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
	if frac != 0 {
		if frac%1000 == 0 {
			dst = append(dst, '.')
			dst = appendPadded(dst, frac/1000, 3)
		} else {
			dst = append(dst, '.')
			dst = appendPadded(dst, frac, 6)
		}
	}
	return append(dst, 'Z')
}

// AppendDate appends a date32 value as "2006-01-02".
func AppendDate(dst []byte, days int32) []byte {
	return time.Unix(int64(days)*86400, 0).UTC().AppendFormat(dst, "2006-01-02")
}

func appendPadded(dst []byte, v int64, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}

// AppendFloat appends f the way a user expects to read it back: the
// shortest text that round-trips, in plain decimal notation for ordinary
// magnitudes (12.5, 0.001, 1234567) and in exponent notation only below
// 1e-6 or from 1e21 up (1e-07, 1e+21), like JavaScript. NaN and ±Inf are
// "NaN", "+Inf", "-Inf".
func AppendFloat(dst []byte, f float64) []byte {
	a := math.Abs(f)
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}
