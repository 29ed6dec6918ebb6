package batch

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// parseTimeText parses s as a timestamp in one of the forms ParseTimestamp
// accepts (RFC 3339 and common date forms; UTC when no offset is given).
func parseTimeText(s string) (time.Time, bool) {
	us, ok := ParseTimestamp([]byte(s))
	if !ok {
		return time.Time{}, false
	}
	return time.UnixMicro(us).UTC(), true
}

// appendTimestampText appends ts (in unit) as RFC 3339 in UTC, in the same
// form as AppendTimestamp (fraction of 3, 6 or, for nanoseconds, 9 digits,
// only when needed).
func appendTimestampText(dst []byte, ts arrow.Timestamp, unit arrow.TimeUnit) []byte {
	v := int64(ts)
	switch unit {
	case arrow.Second:
		return AppendTimestamp(dst, v*1_000_000)
	case arrow.Millisecond:
		return AppendTimestamp(dst, v*1_000)
	case arrow.Microsecond:
		return AppendTimestamp(dst, v)
	}
	if v%1000 == 0 {
		return AppendTimestamp(dst, v/1000)
	}
	return ts.ToTime(unit).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000000Z07:00")
}
