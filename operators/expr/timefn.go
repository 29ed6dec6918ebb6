package expr

import (
	"fmt"
	"strings"
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// civil converts microseconds since the epoch to a UTC calendar date
// (Howard Hinnant's algorithm).
func civil(us int64) (y, m, d int64) {
	z := floorDiv(us, 86_400e6) + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is the inverse of civil, in days.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func truncTime(unit string, us int64) int64 {
	const day = 86_400e6
	switch unit {
	case "second":
		return floorDiv(us, 1e6) * 1e6
	case "minute":
		return floorDiv(us, 60e6) * 60e6
	case "hour":
		return floorDiv(us, 3_600e6) * 3_600e6
	case "day":
		return floorDiv(us, day) * day
	case "week": // Monday: 1970-01-05 was a Monday
		days := floorDiv(us, day)
		return (days - floorMod(days-4, 7)) * day
	}
	y, m, _ := civil(us)
	switch unit {
	case "month":
	case "quarter":
		m = (m-1)/3*3 + 1
	case "year":
		m = 1
	}
	return daysFromCivil(y, m, 1) * day
}

// strftime directives and their Go layout equivalents.
var strftime = map[byte]string{
	'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'e': "_2", 'H': "15", 'I': "03",
	'M': "04", 'S': "05", 'p': "PM", 'b': "Jan", 'h': "Jan", 'B': "January", 'a': "Mon",
	'A': "Monday", 'j': "002", 'z': "-0700", 'Z': "MST", 'f': "000000", 'L': "000",
	'F': "2006-01-02", 'T': "15:04:05", 'R': "15:04", 'D': "01/02/06", '%': "%",
}

// goLayout converts a layout to Go's reference-time form: a layout with %
// is strftime (%Y-%m-%d %H:%M:%S), 'rfc3339' and 'iso8601' name RFC 3339
// with fractional seconds, anything else is a Go layout.
func goLayout(l string) (string, error) {
	switch strings.ToLower(l) {
	case "rfc3339", "iso8601":
		return "2006-01-02T15:04:05.999999999Z07:00", nil
	}
	if !strings.Contains(l, "%") {
		return l, nil
	}
	var sb strings.Builder
	for k := 0; k < len(l); k++ {
		if l[k] != '%' {
			sb.WriteByte(l[k])
			continue
		}
		if k+1 >= len(l) {
			return "", fmt.Errorf("layout %q ends with a lone %%", l)
		}
		k++
		g, ok := strftime[l[k]]
		if !ok {
			return "", fmt.Errorf("unsupported strftime directive %%%c in layout %q", l[k], l)
		}
		sb.WriteString(g)
	}
	return sb.String(), nil
}
