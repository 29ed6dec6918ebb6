package batch

import (
	"bytes"
	"math"
	"strconv"
	"time"
)

// Text values (CSV fields, query strings, ...) are typed by the functions in
// this file. They take []byte, never allocate on success, and have
// hand-written fast paths for the common forms; exotic forms fall back to
// the standard library.

// Timestamps parsed from text are microseconds since the Unix epoch in
// UTC ([Timestamp]): microseconds cover years 0001-9999 in an int64 and
// match Parquet's and most databases' precision; finer fractions are
// truncated. Dates are days since the epoch (date32).

// NullSet is a list of text values that mean null. The zero value treats
// nothing as null; use [NewNullSet].
type NullSet struct {
	values  [][]byte
	empty   bool // "" is a null value
	maxLen  int
	onlyEmp bool // the set is exactly {""}
}

// DefaultNullValues is the default null list: the empty string only.
var DefaultNullValues = []string{""}

// NewNullSet returns the set of the given values.
func NewNullSet(values []string) NullSet {
	n := NullSet{}
	for _, v := range values {
		if v == "" {
			n.empty = true
			continue
		}
		n.values = append(n.values, []byte(v))
		n.maxLen = max(n.maxLen, len(v))
	}
	n.onlyEmp = n.empty && len(n.values) == 0
	return n
}

// IsNull reports whether b is one of the null values.
func (n *NullSet) IsNull(b []byte) bool {
	if len(b) == 0 {
		return n.empty
	}
	if len(b) > n.maxLen {
		return false
	}
	for _, v := range n.values {
		if bytes.Equal(b, v) {
			return true
		}
	}
	return false
}

// ParseInt parses a base-10 signed integer with an optional sign. It
// reports false on anything else, including overflow.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		if len(b) > 19 {
			// Leading zeros may make a valid number long.
			for len(b) > 19 && b[0] == '0' {
				b = b[1:]
			}
			if len(b) <= 19 {
				return parseIntDigits(b, neg)
			}
		}
		return 0, false
	}
	return parseIntDigits(b, neg)
}

func parseIntDigits(b []byte, neg bool) (int64, bool) {
	var u uint64
	for _, c := range b {
		d := c - '0'
		if d > 9 {
			return 0, false
		}
		u = u*10 + uint64(d)
	}
	// 19 digits fit in a uint64 without wrapping; check the int64 range.
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// ParseFloat parses a decimal floating-point number ("12.5", "-3", "1e6",
// ".5"; also "NaN", "Inf" as strconv does). The result is the correctly
// rounded float64: short decimals take an exact fast path (Clinger's: at
// most 15 significant digits and a power of ten up to 1e22), the rest goes
// through strconv.ParseFloat without allocating on success.
func ParseFloat(b []byte) (float64, bool) {
	n := len(b)
	if n == 0 {
		return 0, false
	}
	i := 0
	neg := false
	switch b[0] {
	case '-':
		neg = true
		i++
	case '+':
		i++
	}
	var mant uint64
	nd := 0  // significant digits taken into mant
	exp := 0 // decimal exponent adjustment
	digits := 0
	for ; i < n; i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		digits++
		if mant == 0 && d == 0 {
			continue
		}
		nd++
		mant = mant*10 + uint64(d)
	}
	if i < n && b[i] == '.' {
		i++
		for ; i < n; i++ {
			d := b[i] - '0'
			if d > 9 {
				break
			}
			digits++
			exp--
			if mant == 0 && d == 0 {
				continue
			}
			nd++
			mant = mant*10 + uint64(d)
		}
	}
	if digits == 0 {
		return slowFloat(b)
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < n && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		if i == n {
			return 0, false
		}
		e := 0
		for ; i < n; i++ {
			d := b[i] - '0'
			if d > 9 {
				return 0, false
			}
			if e < 10000 {
				e = e*10 + int(d)
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if i != n {
		return slowFloat(b)
	}
	if nd > 15 || exp < -22 || exp > 22 {
		return slowFloat(b)
	}
	f := float64(mant)
	if exp < 0 {
		f /= pow10[-exp]
	} else {
		f *= pow10[exp]
	}
	if neg {
		f = -f
	}
	return f, true
}

func slowFloat(b []byte) (float64, bool) {
	// Reject forms strconv accepts but a text column should not: hex
	// floats and digit separators.
	for _, c := range b {
		if c == '_' || c == 'x' || c == 'X' || c == 'p' || c == 'P' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(unsafeString(b), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true // ±Inf or 0 on over/underflow, as strconv rounds
		}
		return 0, false
	}
	return f, true
}

// ParseBool accepts true/false, t/f, yes/no, y/n and 1/0, in any case.
// Inference is stricter (see [IsBoolText]).
func ParseBool(b []byte) (v, ok bool) {
	switch len(b) {
	case 1:
		switch b[0] {
		case 't', 'T', 'y', 'Y', '1':
			return true, true
		case 'f', 'F', 'n', 'N', '0':
			return false, true
		}
		return false, false
	case 2:
		if eqFold(b, "no") {
			return false, true
		}
	case 3:
		if eqFold(b, "yes") {
			return true, true
		}
	case 4:
		if eqFold(b, "true") {
			return true, true
		}
	case 5:
		if eqFold(b, "false") {
			return false, true
		}
	}
	return false, false
}

// IsBoolText reports whether b is "true" or "false" in any case: the only
// spellings that make inference choose bool.
func IsBoolText(b []byte) bool {
	return (len(b) == 4 && eqFold(b, "true")) || (len(b) == 5 && eqFold(b, "false"))
}

func eqFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// ParseTimestamp parses a timestamp into microseconds since the Unix epoch
// (UTC). Accepted without allocating, by a hand-written parser:
//
//	2006-01-02T15:04:05Z            RFC 3339 ('T', 't' or ' ' between date and time)
//	2006-01-02T15:04:05.999999999Z  any number of fraction digits (truncated to µs)
//	2006-01-02T15:04:05+07:00       zone offsets ±hh:mm, ±hhmm, ±hh; converted to UTC
//	2006-01-02 15:04:05             no zone: taken as UTC
//	2006-01-02T15:04                seconds omitted
//	2006-01-02                      a date: midnight UTC
//
// Other common forms go through time.Parse: RFC 1123 ("Mon, 02 Jan 2006
// 15:04:05 MST" and with a numeric zone), RFC 850, ANSIC, and "2006/01/02"
// with an optional " 15:04:05".
func ParseTimestamp(b []byte) (int64, bool) {
	if us, ok := fastTimestamp(b); ok {
		return us, true
	}
	if len(b) < 8 || len(b) > 64 {
		return 0, false
	}
	s := unsafeString(b)
	for _, layout := range slowLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UnixMicro(), true
		}
	}
	return 0, false
}

var slowLayouts = []string{
	time.RFC1123Z, time.RFC1123, time.RFC850, time.ANSIC,
	"2006/01/02 15:04:05", "2006/01/02",
}

// TimestampParser is [ParseTimestamp] with a one-entry cache of the date
// part: a column of timestamps mostly repeats its date, whose conversion
// to days is then skipped. The zero value is ready; it is not safe for
// concurrent use.
type TimestampParser struct {
	date [10]byte
	days int64
	ok   bool
}

// Parse is ParseTimestamp(b).
func (p *TimestampParser) Parse(b []byte) (int64, bool) {
	if len(b) >= 19 && p.ok && string(b[:10]) == string(p.date[:]) && (b[10] == 'T' || b[10] == ' ') {
		if us, ok := timeOfDay(b, 10); ok {
			return p.days*86_400_000_000 + us, true
		}
	}
	us, ok := ParseTimestamp(b)
	if ok && len(b) >= 10 {
		if y, m, d, ok2 := parseYMD(b); ok2 {
			copy(p.date[:], b[:10])
			p.days = daysFromCivil(y, m, d)
			p.ok = true
		}
	}
	return us, ok
}

// ParseDate parses a date ("2006-01-02", or any timestamp ParseTimestamp
// accepts, truncated to its UTC day) into days since the Unix epoch.
func ParseDate(b []byte) (int32, bool) {
	if len(b) == 10 {
		y, m, d, ok := parseYMD(b)
		if ok {
			return int32(daysFromCivil(y, m, d)), true
		}
	}
	us, ok := ParseTimestamp(b)
	if !ok {
		return 0, false
	}
	days := us / 86_400_000_000
	if us%86_400_000_000 < 0 {
		days--
	}
	return int32(days), true
}

func digits2(b []byte) (int, bool) {
	d0, d1 := b[0]-'0', b[1]-'0'
	if d0 > 9 || d1 > 9 {
		return 0, false
	}
	return int(d0)*10 + int(d1), true
}

func parseYMD(b []byte) (y, m, d int, ok bool) {
	if b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, false
	}
	hi, ok1 := digits2(b[0:2])
	lo, ok2 := digits2(b[2:4])
	m, ok3 := digits2(b[5:7])
	d, ok4 := digits2(b[8:10])
	if !(ok1 && ok2 && ok3 && ok4) || m < 1 || m > 12 || d < 1 || d > daysIn(hi*100+lo, m) {
		return 0, 0, 0, false
	}
	return hi*100 + lo, m, d, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns days since 1970-01-01 for a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func fastTimestamp(b []byte) (int64, bool) {
	n := len(b)
	if n < 10 {
		return 0, false
	}
	y, mo, d, ok := parseYMD(b)
	if !ok {
		return 0, false
	}
	us := daysFromCivil(y, mo, d) * 86_400_000_000
	if n == 10 {
		return us, true
	}
	t, ok := timeOfDay(b, 10)
	if !ok {
		return 0, false
	}
	return us + t, true
}

// timeOfDay parses what follows a date at b[i:] (a 'T', 't' or ' '
// separator, hh:mm[:ss[.frac]], an optional zone) into microseconds from
// the day's UTC midnight (possibly negative or past a day with a zone).
func timeOfDay(b []byte, i int) (int64, bool) {
	n := len(b)
	if n < i+6 || (b[i] != 'T' && b[i] != 't' && b[i] != ' ') || b[i+3] != ':' {
		return 0, false
	}
	h, ok1 := digits2(b[i+1 : i+3])
	mi, ok2 := digits2(b[i+4 : i+6])
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return 0, false
	}
	sec := 0
	i += 6
	if i < n && b[i] == ':' {
		if n < i+3 {
			return 0, false
		}
		s, ok := digits2(b[i+1 : i+3])
		if !ok || s > 59 {
			return 0, false
		}
		sec = s
		i += 3
	}
	us := int64(h*3600+mi*60+sec) * 1_000_000
	if i < n && (b[i] == '.' || b[i] == ',') {
		i++
		start := i
		frac := int64(0)
		for ; i < n; i++ {
			c := b[i] - '0'
			if c > 9 {
				break
			}
			if i-start < 6 {
				frac = frac*10 + int64(c)
			}
		}
		nd := i - start
		if nd == 0 {
			return 0, false
		}
		for k := nd; k < 6; k++ {
			frac *= 10
		}
		us += frac
	}
	if i == n {
		return us, true
	}
	switch b[i] {
	case 'Z', 'z':
		if i+1 == n {
			return us, true
		}
		return 0, false
	case '+', '-':
		sign := int64(1)
		if b[i] == '-' {
			sign = -1
		}
		z := b[i+1:]
		var zh, zm int
		ok := false
		switch {
		case len(z) == 2:
			zh, ok = digits2(z)
		case len(z) == 4:
			zh, ok = digits2(z[0:2])
			if ok {
				zm, ok = digits2(z[2:4])
			}
		case len(z) == 5 && z[2] == ':':
			zh, ok = digits2(z[0:2])
			if ok {
				zm, ok = digits2(z[3:5])
			}
		}
		if !ok || zh > 23 || zm > 59 {
			return 0, false
		}
		return us - sign*int64(zh*3600+zm*60)*1_000_000, true
	case ' ':
		// "2006-01-02 15:04:05 UTC" and similar trailing zone names.
		if z := unsafeString(b[i+1:]); z == "UTC" || z == "GMT" {
			return us, true
		}
	}
	return 0, false
}
