package order

import (
	"fmt"
	"github.com/apache/arrow-go/v18/arrow"
	"strconv"
	"strings"
)

// DefaultMemoryLimit is sort.apply's default memory budget (256 MiB).
const DefaultMemoryLimit = 256 << 20

// ParseBytes reads a byte size: an integer number of bytes, or a number
// with a unit. KB, MB, GB and TB are powers of 1000; KiB, MiB, GiB and
// TiB, and the one-letter K, M, G, T (as in JVM options), are powers of
// 1024. Units are case-insensitive; B is optional ("64k", "1.5GiB").
func ParseBytes(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		if v <= 0 {
			return 0, fmt.Errorf("byte size must be positive, got %d", v)
		}
		return v, nil
	case int:
		return ParseBytes(int64(v))
	case float64:
		if v != float64(int64(v)) {
			return 0, fmt.Errorf("byte size must be a whole number, got %v", v)
		}
		return ParseBytes(int64(v))
	case string:
		s := strings.TrimSpace(v)
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		num, err := strconv.ParseFloat(s[:i], 64)
		if err != nil || i == 0 {
			return 0, fmt.Errorf("%q is not a byte size (use e.g. \"256MB\", \"1GiB\" or a number of bytes)", v)
		}
		unit := strings.ToLower(strings.TrimSpace(s[i:]))
		mult := map[string]float64{
			"": 1, "b": 1,
			"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
			"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
			"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
		}[unit]
		if mult == 0 {
			return 0, fmt.Errorf("%q is not a byte size: unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", v, s[i:])
		}
		n := int64(num * mult)
		if n <= 0 {
			return 0, fmt.Errorf("byte size must be positive, got %q", v)
		}
		return n, nil
	}
	return 0, fmt.Errorf("byte size must be a string such as \"256MB\" or an integer, got %T", v)
}

// BatchBytes is the size of the buffers b references (a buffer shared by
// several columns is counted once per column).
func BatchBytes(b arrow.RecordBatch) int64 {
	var n int64
	for _, c := range b.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, buf := range d.Buffers() {
		if buf != nil {
			n += int64(buf.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	if d.DataType().ID() == arrow.DICTIONARY {
		n += dataBytes(d.Dictionary())
	}
	return n
}
