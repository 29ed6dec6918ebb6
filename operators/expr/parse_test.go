package expr

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

func TestParseErrors(t *testing.T) {
	cases := []struct {
		src string
		col int
		msg string
	}{
		{"amount > (1", 12, `expected ")" to close the "(" at column 10`},
		{"f(a, b", 7, `expected ")" after arguments of f`},
		{"f(a b)", 5, `expected ")" after arguments of f`},
		{"a >", 4, "unexpected end of expression"},
		{"a = 'abc", 5, "unterminated string"},
		{"`abc", 1, "unterminated column name"},
		{"a ? b", 3, `unexpected character '?'`},
		{"a b", 3, `unexpected "b" after the end`},
		{"5min", 1, `invalid duration "5min"`}, {"5x", 1, `invalid number or duration "5x"`},
		{"99999999999999999999", 1, "out of range"},
		{"a in ()", 3, "empty in list"},
		{"a between 1 or 2", 13, `expected "and" in between`},
		{"a is 5", 6, `expected "null" after "is"`},
		{"case when a then b", 19, `expected "end"`},
		{"case end", 6, `expected "when"`},
		{"timestamp 'x'", 11, "invalid timestamp"},
		{"date '2024-13-01'", 6, "invalid date"},
		{"ünï > (", 8, "unexpected end"},
		{"and", 1, `unexpected keyword "and"`},
		{strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), 201, "nested too deeply"},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: error %v, want a SyntaxError", c.src, err)
			continue
		}
		if se.Col != c.col || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%q: column %d %q, want column %d containing %q", c.src, se.Col, se.Msg, c.col, c.msg)
		}
	}
	// The caret format.
	_, err := Parse("amount > (1")
	want := "column 12: expected \")\" to close the \"(\" at column 10, found end of expression\n  amount > (1\n             ^"
	if err.Error() != want {
		t.Errorf("error text:\n%s\nwant:\n%s", err, want)
	}
	_, err = Parse("ünïcödé > 'x' and")
	if !strings.HasSuffix(err.Error(), "\n  ünïcödé > 'x' and\n                   ^") {
		t.Errorf("unicode caret:\n%s", err)
	}
	_, err = Parse("a > 1\nand b >")
	if !strings.HasPrefix(err.Error(), "line 2, column 8:") || !strings.HasSuffix(err.Error(), "\n  and b >\n         ^") {
		t.Errorf("multi-line:\n%s", err)
	}
}

func TestCompileErrors(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
		{Name: "country", Type: arrow.BinaryTypes.String},
		{Name: "qty", Type: arrow.PrimitiveTypes.Int32},
		{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_ms},
		{Name: "list", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
	}, nil)
	// Unknown column with a suggestion.
	_, err := Compile("amout > 10", schema)
	var uc *UnknownColumnError
	if !errors.As(err, &uc) || !errors.Is(err, ErrUnknownColumn) {
		t.Fatalf("amout: %v", err)
	}
	if uc.Column != "amout" || uc.Suggestion != "amount" || uc.Col != 1 || !reflect.DeepEqual(uc.Available, []string{"amount", "country", "qty", "ts", "list"}) {
		t.Errorf("amout: %+v", uc)
	}
	if want := "unknown column \"amout\" (did you mean \"amount\"?)\n  amout > 10\n  ^"; err.Error() != want {
		t.Errorf("amout: %q, want %q", err.Error(), want)
	}
	cases := []struct {
		src string
		col int
		msg string
	}{
		{"country = 1", 9, "cannot compare string with int"},
		{"qty > 'x'", 5, "cannot compare int with string"},
		{"country in ('US', 2)", 19, "cannot compare string with int"},
		{"ts > 'yesterday'", 6, `cannot parse "yesterday" as a timestamp`},
		{"ts > country", 6, "cannot compare timestamp with a string column"},
		{"amount + country", 8, "cannot apply + to float and string"},
		{"country + country", 9, "use concat"},
		{"not amount", 5, "not needs a bool operand, got float"},
		{"amount and true", 1, "and needs bool operands, got float"},
		{"lowr(country)", 1, `unknown function "lowr" (did you mean "lower"?)`},
		{"lower(country, 1)", 1, "lower takes 1 argument, got 2"},
		{"substr(country)", 1, "substr takes 2 to 3 arguments, got 1"},
		{"regex_match(country, '(')", 22, "invalid regular expression: missing closing )"},
		{"regex_match(country, country)", 22, "pattern of regex_match must be a string literal"},
		{"if(amount, 1, 2)", 4, "if condition must be bool, got float"},
		{"if(true, 1, 'a')", 1, "if mixes int and string"},
		{"coalesce(amount, country)", 1, "coalesce mixes float and string"},
		{"date_trunc('fortnight', ts)", 12, `unknown date_trunc unit "fortnight"`},
		{"list > 1", 1, `column "list" has type list<item: int64, nullable>, which expressions do not support`},
		{"length(1)", 8, "argument 1 of length must be string, got int"},
		{"ts + ts", 4, "cannot apply + to timestamp and timestamp"},
		{"format_time(ts, '%Q')", 17, "unsupported strftime directive %Q"},
		{"country like 1", 14, "like pattern must be a string literal"},
		{"-country", 1, "cannot negate string"},
		{"int(ts) + bool(ts)", 11, "cannot convert timestamp to bool"},
	}
	for _, c := range cases {
		_, err := Compile(c.src, schema)
		var te *TypeError
		if !errors.As(err, &te) || !errors.Is(err, ErrType) {
			t.Errorf("%q: error %v, want a TypeError", c.src, err)
			continue
		}
		if te.Col != c.col || !strings.Contains(te.Msg, c.msg) {
			t.Errorf("%q: column %d %q, want column %d containing %q", c.src, te.Col, te.Msg, c.col, c.msg)
		}
		if !strings.Contains(te.Error(), "\n  "+c.src+"\n") {
			t.Errorf("%q: no source line in %q", c.src, te.Error())
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	cases := map[string]string{
		"a+b*c":                                 "a + b * c",
		"(a+b)*c":                               "(a + b) * c",
		"a - (b - c)":                           "a - (b - c)",
		"a - b - c":                             "a - b - c",
		"NOT a = b AND c || d":                  "not a = b and c or d",
		"not (a and b)":                         "not (a and b)",
		"(not a) = b":                           "(not a) = b",
		"x == 1 && y <> 2":                      "x = 1 and y != 2",
		"-5 * x":                                "-5 * x",
		"-(a + b)":                              "-(a + b)",
		"- -a":                                  "- -a",
		"a in (1, 'x', null)":                   "a in (1, 'x', null)",
		"a NOT IN (1)":                          "a not in (1)",
		"a between 1 + 1 and 3":                 "a between 1 + 1 and 3",
		"a not between (b or c) and 3":          "a not between (b or c) and 3",
		"a is not null is null":                 "a is not null is null",
		"`country code` = \"it's\"":             "`country code` = 'it''s'",
		"`a``b` + `and`":                        "`a``b` + `and`",
		"a.b":                                   "a.b",
		"Lower(S)":                              "lower(S)",
		"case x when 1 then 'a' else 'b' end":   "case x when 1 then 'a' else 'b' end",
		"CASE WHEN a THEN 1 END":                "case when a then 1 end",
		"1h30m + 250ms + 2d":                    "1h30m + 250ms + 2d",
		"interval '90 minutes'":                 "1h30m",
		"timestamp '2024-01-01 10:00:00+02:00'": "timestamp '2024-01-01T08:00:00Z'",
		"date '2024-05-01'":                     "timestamp '2024-05-01T00:00:00Z'",
		"1.0 + 2.5e10 + 1e-7":                   "1.0 + 2.5e+10 + 1e-07",
		"-9223372036854775808":                  "-9223372036854775808",
		"now()":                                 "now()",
		"s like 'a%' and t not like '_'":        "s like 'a%' and t not like '_'",
		"timestamp":                             "timestamp",
		"date(x)":                               "date(x)",
	}
	for src, want := range cases {
		e, err := Parse(src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		if got := e.String(); got != want {
			t.Errorf("%q: String() = %q, want %q", src, got, want)
		}
		e2, err := Parse(e.String())
		if err != nil || e2.String() != e.String() {
			t.Errorf("%q: reparse of %q: %v %q", src, e.String(), err, e2)
		}
	}
}

func TestColumns(t *testing.T) {
	e, err := Parse("b + a * b > `c d` and lower(a) = 'x' or z is null")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Columns(), []string{"b", "a", "c d", "z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Columns() = %v, want %v", got, want)
	}
}

// FuzzParse: Parse never panics, and what parses prints back to text that
// parses to the same canonical form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"amount >= 1000 and country in ('US', 'CA')", "price * qty * (1 + tax)",
		"case when a > 1 then 'x' when b then 'y' else null end", "not a between 1 and 2 or b is not null",
		"`a b` || c && !d", "lower(trim(s)) like '%x_'", "ts > timestamp '2024-01-01T00:00:00Z' - 1h30m",
		"-9223372036854775808", "1.5e3 % 2", "x not in (1, -2.5, 'a', null)", "date '2024-05-01' + interval '2 days'",
		"regex_match(s, '^\\d+$')", "'it''s'", "\"dq\"", "a.b.c <> 3", "f()", "((((1))))", "- -1", "1.", ".5",
		"coalesce(a, b, 0) + if(c, 1, 2)", "case x when 1 then 2 end",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%q: error %T %v", src, err, err)
			}
			_ = err.Error()
			return
		}
		s1 := e.String()
		e2, err := Parse(s1)
		if err != nil {
			t.Fatalf("%q printed as %q which does not parse: %v", src, s1, err)
		}
		if s2 := e2.String(); s2 != s1 {
			t.Fatalf("%q: %q reprints as %q", src, s1, s2)
		}
		// Compiling against an empty schema must not panic either.
		_, _ = CompileExpr(e, nil)
	})
}
