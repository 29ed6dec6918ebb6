package batch

import (
	"math"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// NullText is how FormatValue renders a null.
const NullText = "NULL"

// FormatValue renders arr at row i as display text (for tables and
// messages): strings as they are, numbers in their shortest form,
// timestamps in RFC 3339 (UTC; a fraction of 3, 6 or 9 digits only when
// needed, as AppendTimestamp writes them),
// dates as 2006-01-02, nulls as NullText, and other types in Arrow's own
// text form. arr is borrowed.
func FormatValue(arr arrow.Array, i int) string {
	if arr.IsNull(i) {
		return NullText
	}
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Float64:
		return formatFloat(a.Value(i), 64)
	case *array.Float32:
		return formatFloat(float64(a.Value(i)), 32)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.Timestamp:
		return string(appendTimestampText(nil, a.Value(i), a.DataType().(*arrow.TimestampType).Unit))
	case *array.Date32:
		return string(AppendDate(nil, int32(a.Value(i))))
	case *array.Date64:
		return a.Value(i).ToTime().UTC().Format(time.DateOnly)
	}
	return arr.ValueStr(i)
}

func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return string(appendFloat(nil, f, bits))
}
