package batch

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"-12", -12, true}, {"+7", 7, true}, {"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true}, {"9223372036854775808", 0, false},
		{"00000000000000000000042", 42, true}, {"", 0, false}, {"-", 0, false}, {"1.0", 0, false}, {"1e3", 0, false}, {" 1", 0, false},
	} {
		got, ok := ParseInt([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseFloat(t *testing.T) {
	for _, s := range []string{"0", "12.5", "-0.001", ".5", "5.", "1e10", "1E-5", "123456789012345678", "0.1", "3.14159265358979323846",
		"1e308", "1e-320", "NaN", "inf", "-Infinity", "+2.5"} {
		want, err := strconv.ParseFloat(s, 64)
		got, ok := ParseFloat([]byte(s))
		if err != nil || !ok || (got != want && !(math.IsNaN(got) && math.IsNaN(want))) {
			t.Errorf("ParseFloat(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "-", ".", "e5", "1e", "1.2.3", "0x10", "1_000", "abc", "1,5"} {
		if v, ok := ParseFloat([]byte(s)); ok {
			t.Errorf("ParseFloat(%q) = %v, want failure", s, v)
		}
	}
	// The fast path must be exact: compare with strconv on random decimals.
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		s := strconv.FormatFloat(r.NormFloat64()*math.Pow(10, float64(r.IntN(12)-4)), 'f', r.IntN(8), 64)
		want, _ := strconv.ParseFloat(s, 64)
		if got, ok := ParseFloat([]byte(s)); !ok || got != want {
			t.Fatalf("ParseFloat(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseBool(t *testing.T) {
	for in, want := range map[string]bool{"true": true, "FALSE": false, "t": true, "F": false, "yes": true, "No": false, "1": true, "0": false} {
		if got, ok := ParseBool([]byte(in)); !ok || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "2", "tru", "maybe"} {
		if _, ok := ParseBool([]byte(in)); ok {
			t.Errorf("ParseBool(%q) succeeded", in)
		}
	}
	if IsBoolText([]byte("1")) || !IsBoolText([]byte("True")) {
		t.Error("IsBoolText")
	}
}

func TestParseTimestamp(t *testing.T) {
	ref := func(s string) int64 { return time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC).UnixMicro() }
	base := ref("")
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"2024-03-05T06:07:08Z", base},
		{"2024-03-05T06:07:08.123Z", base + 123000},
		{"2024-03-05T06:07:08.123456789Z", base + 123456},
		{"2024-03-05 06:07:08", base},
		{"2024-03-05t06:07:08z", base},
		{"2024-03-05T08:07:08+02:00", base},
		{"2024-03-05T04:07:08-0200", base},
		{"2024-03-05T06:07", base - 8_000_000},
		{"2024-03-05", base - (6*3600+7*60+8)*1_000_000},
		{"2024-03-05 06:07:08 UTC", base},
		{"Tue, 05 Mar 2024 06:07:08 +0000", base},
		{"2024/03/05 06:07:08", base},
		{"1969-12-31T23:59:59.5Z", -500000},
	} {
		got, ok := ParseTimestamp([]byte(tc.in))
		if !ok || got != tc.want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d", tc.in, got, ok, tc.want)
		}
		var p TimestampParser
		for range 2 {
			if got, ok := p.Parse([]byte(tc.in)); !ok || got != tc.want {
				t.Errorf("TimestampParser.Parse(%q) = %d, %v; want %d", tc.in, got, ok, tc.want)
			}
		}
	}
	for _, in := range []string{"", "2024-13-01", "2024-02-30", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00+", "12", "2024-01-01X", "2024-01-01T00:00:00.Z"} {
		if v, ok := ParseTimestamp([]byte(in)); ok {
			t.Errorf("ParseTimestamp(%q) = %d, want failure", in, v)
		}
	}
	// Random instants against time.Parse.
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		tm := time.UnixMicro(r.Int64N(8e15) - 2e15).UTC()
		s := tm.Format(time.RFC3339Nano)
		if got, ok := ParseTimestamp([]byte(s)); !ok || got != tm.UnixMicro() {
			t.Fatalf("ParseTimestamp(%q) = %d, %v; want %d", s, got, ok, tm.UnixMicro())
		}
	}
}

func TestParseDate(t *testing.T) {
	if d, ok := ParseDate([]byte("1970-01-02")); !ok || d != 1 {
		t.Errorf("ParseDate = %d %v", d, ok)
	}
	if d, ok := ParseDate([]byte("1969-12-31T12:00:00Z")); !ok || d != -1 {
		t.Errorf("ParseDate = %d %v", d, ok)
	}
	if got := string(AppendDate(nil, 19723)); got != "2024-01-01" {
		t.Errorf("AppendDate = %s", got)
	}
}

func TestAppendTimestampAndFloat(t *testing.T) {
	for us, want := range map[int64]string{
		1704067200000000: "2024-01-01T00:00:00Z", 1704067200123000: "2024-01-01T00:00:00.123Z",
		1704067200123456: "2024-01-01T00:00:00.123456Z", -1: "1969-12-31T23:59:59.999999Z",
	} {
		if got := string(AppendTimestamp(nil, us)); got != want {
			t.Errorf("AppendTimestamp(%d) = %s, want %s", us, got, want)
		}
	}
	for f, want := range map[float64]string{12.5: "12.5", 0.1: "0.1", 1234567: "1234567", 1e21: "1e+21", 1e-7: "1e-07", 0.000001: "0.000001", -3: "-3", 0: "0"} {
		if got := string(AppendFloat(nil, f)); got != want {
			t.Errorf("AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestInferrer(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		want arrow.DataType
	}{
		{[]string{"1", "-2"}, arrow.PrimitiveTypes.Int64},
		{[]string{"1", "2.5"}, arrow.PrimitiveTypes.Float64},
		{[]string{"true", "FALSE"}, arrow.FixedWidthTypes.Boolean},
		{[]string{"2024-01-01", "2024-01-01T00:00:00Z"}, Timestamp},
		{[]string{"1", "x"}, arrow.BinaryTypes.String},
		{[]string{"true", "1"}, arrow.BinaryTypes.String},
		{nil, arrow.BinaryTypes.String},
	} {
		var f Inferrer
		for _, v := range tc.vals {
			f.Observe([]byte(v))
		}
		if got := f.Type(); !arrow.TypeEqual(got, tc.want) {
			t.Errorf("%v: %v, want %v", tc.vals, got, tc.want)
		}
	}
	if got := WidenText(arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64); got.ID() != arrow.FLOAT64 {
		t.Error(got)
	}
	if got := WidenText(nil, arrow.FixedWidthTypes.Boolean); got.ID() != arrow.BOOL {
		t.Error(got)
	}
	if got := WidenText(arrow.FixedWidthTypes.Boolean, arrow.PrimitiveTypes.Int64); got.ID() != arrow.STRING {
		t.Error(got)
	}
}

func TestNullSet(t *testing.T) {
	n := NewNullSet([]string{"", "NA"})
	if !n.IsNull(nil) || !n.IsNull([]byte("NA")) || n.IsNull([]byte("N")) {
		t.Error("NullSet")
	}
}
