package expr

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

const maxI = int64(math.MaxInt64)

var N any = nil

func norm(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case string:
		return x
	}
	return v
}

func fnvOf(parts ...[]byte) int64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write(p)
	}
	return int64(h.Sum64())
}

func le(u uint64) []byte { return binary.LittleEndian.AppendUint64(nil, u) }

func TestEvalTable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := testBatch(t, mem)
	defer b.Release()
	h, m := time.Hour, time.Minute
	cases := []struct {
		src  string
		want []any
	}{
		// Arithmetic, overflow, division by zero.
		{"i + j", []any{3, -7, maxI - 1, N}},
		{"i + 1", []any{2, -6, N, N}},
		{"i - j", []any{-1, -7, N, N}},
		{"i * j", []any{2, 0, -maxI, N}},
		{"i * 2", []any{2, -14, N, N}},
		{"2 * i", []any{2, -14, N, N}},
		{"1 - i", []any{0, 8, -maxI + 1, N}},
		{"i / j", []any{0.5, N, -9.223372036854776e18, N}},
		{"i % j", []any{1, N, 0, N}},
		{"100 % j", []any{0, N, 0, 1}},
		{"-7 % 3", []any{-1, -1, -1, -1}},
		{"i / 2", []any{0.5, -3.5, 4.611686018427388e18, N}},
		{"f * 2", []any{3.0, -4.5, N, 0.0}},
		{"f / 0", []any{N, N, N, N}},
		{"f / j", []any{0.75, N, N, 0.0}},
		{"1 / f", []any{1 / 1.5, 1 / -2.25, N, N}},
		{"i + f", []any{2.5, -9.25, N, N}},
		{"f % 2", []any{1.5, -0.25, N, 0.0}},
		{"-i", []any{-1, 7, -maxI, N}},
		{"-f", []any{-1.5, 2.25, N, 0.0}},
		{"- -i", []any{1, -7, maxI, N}},
		{"1 + 2 * 3", []any{7, 7, 7, 7}},
		{"(1 + 2) * 3", []any{9, 9, 9, 9}},
		{"10 - 2 - 3", []any{5, 5, 5, 5}},
		{"9223372036854775807 + 1", []any{N, N, N, N}},
		{"-9223372036854775808", []any{math.MinInt64, math.MinInt64, math.MinInt64, math.MinInt64}},
		{"-9223372036854775808 % -1", []any{0, 0, 0, 0}},
		{"-(-9223372036854775808)", []any{N, N, N, N}},
		{"i * null", []any{N, N, N, N}},
		{"1.5e3 + 1", []any{1501.0, 1501.0, 1501.0, 1501.0}},
		// Comparisons.
		{"i > 0", []any{true, false, true, N}},
		{"i = 1", []any{true, false, false, N}},
		{"i == 1", []any{true, false, false, N}},
		{"i <> 1", []any{false, true, true, N}},
		{"i != 1", []any{false, true, true, N}},
		{"1 < i", []any{false, false, true, N}},
		{"i <= j", []any{true, true, false, N}},
		{"f >= 0", []any{true, false, N, true}},
		{"i < f", []any{true, true, N, N}},
		{"f = 0", []any{false, false, N, true}},
		{"s = 'Hello'", []any{true, false, N, false}},
		{"s = \"Hello\"", []any{true, false, N, false}},
		{"s < 'B'", []any{false, true, N, true}},
		{"s >= u", []any{false, false, N, false}},
		{"s != ''", []any{true, false, N, true}},
		{"b = true", []any{true, false, N, true}},
		{"b != false", []any{true, false, N, true}},
		{"b > false", []any{true, false, N, true}},
		{"ts > '2020-01-01'", []any{true, false, N, false}},
		{"ts < timestamp '2000-03-01T00:00:00Z'", []any{false, true, N, true}},
		{"ts >= date '2000-02-29'", []any{true, false, N, true}},
		{"d > 1h", []any{true, false, N, false}},
		{"d = '90m'", []any{true, false, N, false}},
		{"'a' < 'b'", []any{true, true, true, true}},
		{"i = null", []any{N, N, N, N}},
		// Boolean logic (three-valued).
		{"b and i > 0", []any{true, false, N, N}},
		{"b or i > 0", []any{true, false, true, true}},
		{"b and false", []any{false, false, false, false}},
		{"b or true", []any{true, true, true, true}},
		{"b and null", []any{N, false, N, N}},
		{"b or null", []any{true, N, N, true}},
		{"not b", []any{false, true, N, false}},
		{"! b", []any{false, true, N, false}},
		{"NOT i > 0", []any{false, true, false, N}},
		{"not f > 0", []any{false, true, N, true}},
		{"b && true", []any{true, false, N, true}},
		{"b || false", []any{true, false, N, true}},
		{"null and false", []any{false, false, false, false}},
		{"null or true", []any{true, true, true, true}},
		{"null and true", []any{N, N, N, N}},
		{"not null", []any{N, N, N, N}},
		{"i > 0 or j > 0 and b", []any{true, false, true, true}},
		{"(i > 0 or j > 0) and b", []any{true, false, N, true}},
		{"i is null", []any{false, false, false, true}},
		{"i is not null", []any{true, true, true, false}},
		{"f IS NULL", []any{false, false, true, false}},
		{"null is null", []any{true, true, true, true}},
		{"not i is null", []any{true, true, true, false}},
		// in.
		{"i in (1, 2, 3)", []any{true, false, false, N}},
		{"i in (1, null)", []any{true, N, N, N}},
		{"i not in (1, 2)", []any{false, true, true, N}},
		{"i not in (1, null)", []any{false, N, N, N}},
		{"not i in (1, 2)", []any{false, true, true, N}},
		{"s in ('Hello', 'x')", []any{true, false, N, false}},
		{"`country code` in ('US', 'CA')", []any{true, true, N, false}},
		{"s not in ('Hello')", []any{false, true, N, true}},
		{"i in (j, 1)", []any{true, false, false, N}},
		{"i not in (j, 1)", []any{false, true, true, N}},
		{"f in (1.5, 0)", []any{true, false, N, true}},
		{"i in (1.5, 1)", []any{true, false, false, N}},
		{"ts in ('2024-01-15T10:30:45Z')", []any{true, false, N, false}},
		{"i in (1,2,3,4,5,6,7,8,9,10,-7)", []any{true, true, false, N}},
		{"s in ('a','b','c','d','e','f','g','h','i','Hello')", []any{true, false, N, false}},
		{"f in (1.5,2,3,4,5,6,7,8,9,10,-7)", []any{true, false, N, false}},
		{"b in (true)", []any{true, false, N, true}},
		{"1 in (1, 2)", []any{true, true, true, true}},
		// between.
		{"i between 0 and 5", []any{true, false, false, N}},
		{"i not between 0 and 5", []any{false, true, true, N}},
		{"f between -3 and 1.5", []any{true, true, N, true}},
		{"j between i and 3", []any{true, true, false, N}},
		{"i + 1 between 2 and 2", []any{true, false, N, N}},
		// like.
		{"s like 'He%'", []any{true, false, N, false}},
		{"s like '%llo'", []any{true, false, N, false}},
		{"s like '%l%'", []any{true, false, N, false}},
		{"s like 'H_llo'", []any{true, false, N, false}},
		{"s not like 'H%'", []any{false, true, N, true}},
		{"s like 'Hello'", []any{true, false, N, false}},
		{"u like '%b,%'", []any{false, false, true, false}},
		{"u like '_'", []any{false, false, false, true}},
		// case, if, coalesce.
		{"if(i > 0, 'pos', 'neg')", []any{"pos", "neg", "pos", "neg"}},
		{"if(b, i, f)", []any{1.0, -2.25, N, N}},
		{"IF(true, 1, 2)", []any{1, 1, 1, 1}},
		{"case when i > 0 then 'p' when i < 0 then 'n' else 'z' end", []any{"p", "n", "p", "z"}},
		{"case when i > 0 then 1 end", []any{1, N, 1, N}},
		{"case j when 2 then 'two' when 0 then 'zero' else 'other' end", []any{"two", "zero", "other", "other"}},
		{"case when b then ts end", []any{ts("2024-01-15T10:30:45Z"), N, N, ts("2000-02-29T00:00:00Z")}},
		{"case when false then 1 else 2 end", []any{2, 2, 2, 2}},
		{"coalesce(f, i, 0)", []any{1.5, -2.25, 9.223372036854776e18, 0.0}},
		{"coalesce(s, 'none')", []any{"Hello", "", "none", "  pad  "}},
		{"coalesce(b, false)", []any{true, false, false, true}},
		{"coalesce(null, null)", []any{N, N, N, N}},
		{"coalesce(null, 1)", []any{1, 1, 1, 1}},
		// Strings (unicode).
		{"lower(u)", []any{"ünïcödé", "😀x", "a,b,,c", "ß"}},
		{"upper(u)", []any{"ÜNÏCÖDÉ", "😀X", "A,B,,C", strings.ToUpper("ß")}},
		{"upper(s)", []any{"HELLO", "", N, "  PAD  "}},
		{"length(u)", []any{7, 2, 6, 1}},
		{"length(s)", []any{5, 0, N, 7}},
		{"substr(u, 2, 3)", []any{"nïc", "x", ",b,", ""}},
		{"substr(u, 0, 2)", []any{"Ü", "😀", "a", "ß"}},
		{"substr(s, 2)", []any{"ello", "", N, " pad  "}},
		{"substr(u, -1, 3)", []any{"Ü", "😀", "a", "ß"}},
		{"substr(s, 1, -1)", []any{N, N, N, N}},
		{"substr(u, 7)", []any{"é", "", "", ""}},
		{"substring(u, 1, 1)", []any{"Ü", "😀", "a", "ß"}},
		{"trim(s)", []any{"Hello", "", N, "pad"}},
		{"ltrim(s)", []any{"Hello", "", N, "pad  "}},
		{"rtrim(s)", []any{"Hello", "", N, "  pad"}},
		{"trim(u, 'Üé')", []any{"nïcöd", "😀x", "a,b,,c", "ß"}},
		{"concat(s, '-', i)", []any{"Hello-1", "--7", "-9223372036854775807", "  pad  -"}},
		{"concat(b, f)", []any{"true1.5", "false-2.25", "", "true0"}},
		{"contains(s, 'll')", []any{true, false, N, false}},
		{"starts_with(u, 'Ü')", []any{true, false, false, false}},
		{"ends_with(u, 'x')", []any{false, true, false, false}},
		{"replace(u, ',', ';')", []any{"Ünïcödé", "😀x", "a;b;;c", "ß"}},
		{"replace(s, '', 'x')", []any{"Hello", "", N, "  pad  "}},
		{"regex_match(s, '^H.*o$')", []any{true, false, N, false}},
		{"regex_match(u, '\\p{So}')", []any{false, true, false, false}},
		{"regex_replace(s, 'l+', 'L')", []any{"HeLo", "", N, "  pad  "}},
		{"regex_replace(u, '([a-c])', '<$1>')", []any{"Ünï<c>ödé", "😀x", "<a>,<b>,,<c>", "ß"}},
		{"split_part(u, ',', 2)", []any{"", "", "b", ""}},
		{"split_part(u, ',', -1)", []any{"Ünïcödé", "😀x", "c", "ß"}},
		{"split_part(u, ',', 0)", []any{N, N, N, N}},
		{"split_part(u, ',', 4)", []any{"", "", "c", ""}},
		{"split_part(u, ',', 5)", []any{"", "", "", ""}},
		// Math.
		{"abs(i)", []any{1, 7, maxI, N}},
		{"abs(f)", []any{1.5, 2.25, N, 0.0}},
		{"abs(-9223372036854775808)", []any{N, N, N, N}},
		{"round(f)", []any{2.0, -2.0, N, 0.0}},
		{"round(1.25, 1)", []any{1.3, 1.3, 1.3, 1.3}},
		{"round(-2.5)", []any{-3.0, -3.0, -3.0, -3.0}},
		{"round(1234, -2)", []any{1200, 1200, 1200, 1200}},
		{"round(1250, -2)", []any{1300, 1300, 1300, 1300}},
		{"round(-1250, -2)", []any{-1300, -1300, -1300, -1300}},
		{"round(i, 1)", []any{1, -7, maxI, N}},
		{"round(i, -1)", []any{0, -10, N, N}},
		{"floor(f)", []any{1.0, -3.0, N, 0.0}},
		{"ceil(f)", []any{2.0, -2.0, N, 0.0}},
		{"floor(i)", []any{1, -7, maxI, N}},
		{"sqrt(f)", []any{math.Sqrt(1.5), N, N, 0.0}},
		{"sqrt(4)", []any{2.0, 2.0, 2.0, 2.0}},
		{"pow(2, 10)", []any{1024.0, 1024.0, 1024.0, 1024.0}},
		{"pow(-8, 0.5)", []any{N, N, N, N}},
		{"ln(0)", []any{N, N, N, N}},
		{"ln(1)", []any{0.0, 0.0, 0.0, 0.0}},
		{"ln(f)", []any{math.Log(1.5), N, N, N}},
		{"log10(1000)", []any{3.0, 3.0, 3.0, 3.0}},
		{"least(i, j)", []any{1, -7, -1, 3}},
		{"greatest(i, j, 0)", []any{2, 0, maxI, 3}},
		{"least(f, i)", []any{1.0, -7.0, 9.223372036854776e18, 0.0}},
		{"greatest(s, 'M')", []any{"M", "M", "M", "M"}},
		{"least(s, null)", []any{"Hello", "", N, "  pad  "}},
		// Casts (failed string conversions give null).
		{"int(f)", []any{1, -2, N, 0}},
		{"int('42')", []any{42, 42, 42, 42}},
		{"int('x')", []any{N, N, N, N}},
		{"int(' 7 ')", []any{7, 7, 7, 7}},
		{"int(b)", []any{1, 0, N, 1}},
		{"int(1e300)", []any{N, N, N, N}},
		{"float(i)", []any{1.0, -7.0, 9.223372036854776e18, N}},
		{"float('1.5')", []any{1.5, 1.5, 1.5, 1.5}},
		{"string(f)", []any{"1.5", "-2.25", N, "0"}},
		{"string(b)", []any{"true", "false", N, "true"}},
		{"string(ts)", []any{"2024-01-15T10:30:45Z", "1969-12-31T23:59:59.500Z", N, "2000-02-29T00:00:00Z"}},
		{"string(d)", []any{"1h30m", "-1s", N, "0s"}},
		{"bool('yes')", []any{true, true, true, true}},
		{"bool('maybe')", []any{N, N, N, N}},
		{"bool(i)", []any{true, true, true, N}},
		{"timestamp('2024-05-01')", []any{ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z")}},
		{"timestamp(s)", []any{N, N, N, N}},
		{"timestamp(0)", []any{ts("1970-01-01T00:00:00Z"), ts("1970-01-01T00:00:00Z"), ts("1970-01-01T00:00:00Z"), ts("1970-01-01T00:00:00Z")}},
		{"duration('2 hours')", []any{2 * h, 2 * h, 2 * h, 2 * h}},
		// Time.
		{"year(ts)", []any{2024, 1969, N, 2000}},
		{"month(ts)", []any{1, 12, N, 2}},
		{"day(ts)", []any{15, 31, N, 29}},
		{"hour(ts)", []any{10, 23, N, 0}},
		{"minute(ts)", []any{30, 59, N, 0}},
		{"second(ts)", []any{45, 59, N, 0}},
		{"day_of_week(ts)", []any{1, 3, N, 2}},
		{"day_of_year(ts)", []any{15, 365, N, 60}},
		{"epoch_ms(ts)", []any{1705314645000, -500, N, 951782400000}},
		{"from_epoch_ms(1000)", []any{ts("1970-01-01T00:00:01Z"), ts("1970-01-01T00:00:01Z"), ts("1970-01-01T00:00:01Z"), ts("1970-01-01T00:00:01Z")}},
		{"from_epoch_ms(9223372036854775807)", []any{N, N, N, N}},
		{"date_trunc('hour', ts)", []any{ts("2024-01-15T10:00:00Z"), ts("1969-12-31T23:00:00Z"), N, ts("2000-02-29T00:00:00Z")}},
		{"date_trunc('day', ts)", []any{ts("2024-01-15T00:00:00Z"), ts("1969-12-31T00:00:00Z"), N, ts("2000-02-29T00:00:00Z")}},
		{"date_trunc('minute', ts)", []any{ts("2024-01-15T10:30:00Z"), ts("1969-12-31T23:59:00Z"), N, ts("2000-02-29T00:00:00Z")}},
		{"date_trunc('second', ts)", []any{ts("2024-01-15T10:30:45Z"), ts("1969-12-31T23:59:59Z"), N, ts("2000-02-29T00:00:00Z")}},
		{"date_trunc('week', ts)", []any{ts("2024-01-15T00:00:00Z"), ts("1969-12-29T00:00:00Z"), N, ts("2000-02-28T00:00:00Z")}},
		{"date_trunc('month', ts)", []any{ts("2024-01-01T00:00:00Z"), ts("1969-12-01T00:00:00Z"), N, ts("2000-02-01T00:00:00Z")}},
		{"date_trunc('quarter', ts)", []any{ts("2024-01-01T00:00:00Z"), ts("1969-10-01T00:00:00Z"), N, ts("2000-01-01T00:00:00Z")}},
		{"DATE_TRUNC('Year', ts)", []any{ts("2024-01-01T00:00:00Z"), ts("1969-01-01T00:00:00Z"), N, ts("2000-01-01T00:00:00Z")}},
		{"ts + 1h", []any{ts("2024-01-15T11:30:45Z"), ts("1970-01-01T00:59:59.5Z"), N, ts("2000-02-29T01:00:00Z")}},
		{"ts - d", []any{ts("2024-01-15T09:00:45Z"), ts("1970-01-01T00:00:00.5Z"), N, ts("2000-02-29T00:00:00Z")}},
		{"ts - timestamp '2024-01-15T00:00:00Z'", []any{10*h + 30*m + 45*time.Second, -(time.Duration(19737)*24*h + 500*time.Millisecond), N, -(time.Duration(8721) * 24 * h)}},
		{"d * 2", []any{3 * h, -2 * time.Second, N, time.Duration(0)}},
		{"2 * d", []any{3 * h, -2 * time.Second, N, time.Duration(0)}},
		{"d / 2", []any{45 * m, -500 * time.Millisecond, N, time.Duration(0)}},
		{"d / 0", []any{N, N, N, N}},
		{"d + 30m", []any{2 * h, 29*m + 59*time.Second, N, 30 * m}},
		{"d / 1h", []any{1.5, -1.0 / 3600, N, 0.0}},
		{"-d", []any{-90 * m, time.Second, N, time.Duration(0)}},
		{"format_time(ts, '%Y-%m-%d %H:%M:%S')", []any{"2024-01-15 10:30:45", "1969-12-31 23:59:59", N, "2000-02-29 00:00:00"}},
		{"format_time(ts, '2006/01/02')", []any{"2024/01/15", "1969/12/31", N, "2000/02/29"}},
		{"parse_time('2024-05-01 12:00:00', '%Y-%m-%d %H:%M:%S')", []any{ts("2024-05-01T12:00:00Z"), ts("2024-05-01T12:00:00Z"), ts("2024-05-01T12:00:00Z"), ts("2024-05-01T12:00:00Z")}},
		{"parse_time('01/05/2024', '02/01/2006')", []any{ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z")}},
		{"parse_time('x', '%Y')", []any{N, N, N, N}},
		{"parse_time(string(ts))", []any{ts("2024-01-15T10:30:45Z"), ts("1969-12-31T23:59:59.5Z"), N, ts("2000-02-29T00:00:00Z")}},
		{"timestamp '2024-01-01T00:00:00Z' + 2d", []any{ts("2024-01-03T00:00:00Z"), ts("2024-01-03T00:00:00Z"), ts("2024-01-03T00:00:00Z"), ts("2024-01-03T00:00:00Z")}},
		{"date '2024-05-01'", []any{ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z"), ts("2024-05-01T00:00:00Z")}},
		{"interval '5 minutes'", []any{5 * m, 5 * m, 5 * m, 5 * m}},
		{"1h30m + 250ms", []any{90*m + 250*time.Millisecond, 90*m + 250*time.Millisecond, 90*m + 250*time.Millisecond, 90*m + 250*time.Millisecond}},
		{"1d", []any{24 * h, 24 * h, 24 * h, 24 * h}},
		// Hashing.
		{"md5('abc')", []any{"900150983cd24fb0d6963f7d28e17f72", "900150983cd24fb0d6963f7d28e17f72", "900150983cd24fb0d6963f7d28e17f72", "900150983cd24fb0d6963f7d28e17f72"}},
		{"sha256(s)", []any{"185f8db32271fe25f561a6fc938b2e264306ec304eda518007d1764826381969", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", N, sha256Hex("  pad  ")}},
		{"hash64(1)", []any{fnvOf([]byte{2}, le(1)), fnvOf([]byte{2}, le(1)), fnvOf([]byte{2}, le(1)), fnvOf([]byte{2}, le(1))}},
		{"hash64(s, i)", []any{fnvOf([]byte{4}, le(5), []byte("Hello"), []byte{2}, le(1)), fnvOf([]byte{4}, le(0), []byte{2}, le(uint64(0xFFFFFFFFFFFFFFF9))), fnvOf([]byte{0, 2}, le(uint64(maxI))), fnvOf([]byte{4}, le(7), []byte("  pad  "), []byte{0})}},
		{"hash64(1) != hash64(1.0)", []any{true, true, true, true}},
		{"hash64('a', 'b') != hash64('ab')", []any{true, true, true, true}},
		// Column names.
		{"`country code`", []any{"US", "CA", N, "FR"}},
		{"a.b + 1", []any{11, 21, N, 41}},
		{"`a.b` * 2", []any{20, 40, N, 80}},
		{"i", []any{1, -7, maxI, N}},
		{"null", []any{N, N, N, N}},
	}
	for _, c := range cases {
		got, typ := evalValues(t, mem, c.src, b)
		for k := range c.want {
			w := norm(c.want[k])
			if !sameValue(got[k], w) {
				t.Errorf("%s: row %d = %#v, want %#v (type %s; all %v)", c.src, k, got[k], w, typ, got)
				break
			}
		}
	}
}
