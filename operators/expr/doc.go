// Package expr is Conveyor's vectorized expression language, used by
// filter.apply (expr), map.apply (columns), validate.schema rules and other
// stages. The user-facing reference is docs/expressions.md; this comment
// summarizes it.
//
// # Use
//
//	p, err := expr.Compile("amount >= 1000 and country in ('US', 'CA')", schema)
//	// err: *SyntaxError, *TypeError or *UnknownColumnError (errors.Is:
//	// ErrSyntax, ErrType, ErrUnknownColumn), each rendered with a caret
//	// under the offending column of the source.
//	arr, err := p.Eval(mem, batch)   // a column of p.Type(), caller releases
//	err = p.Select(mem, batch, bits) // boolean programs: bit i set iff row i is TRUE
//
// A Program reuses scratch buffers from batch to batch and is therefore not
// safe for concurrent use; compile one per goroutine. Batches may have a
// schema other than the compile schema as long as the referenced columns
// exist with types that load to the same expression types.
//
// # Grammar
//
//	expr     = or
//	or       = and { ("or" | "||") and }
//	and      = not { ("and" | "&&") not }
//	not      = ("not" | "!") not | cmp
//	cmp      = add { cmpop add | "is" ["not"] "null"
//	               | ["not"] "in" "(" expr { "," expr } ")"
//	               | ["not"] "between" add "and" add
//	               | ["not"] "like" add }
//	cmpop    = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//	add      = mul { ("+" | "-") mul }
//	mul      = unary { ("*" | "/" | "%") unary }
//	unary    = ("-" | "+") unary | primary
//	primary  = literal | column | name "(" [ expr { "," expr } ] ")"
//	         | "case" [expr] "when" expr "then" expr { "when" expr "then" expr } ["else" expr] "end"
//	         | "(" expr ")" | "not" not
//	literal  = int | float | string | duration | "true" | "false" | "null"
//	         | "timestamp" string | "date" string | "interval" string
//	column   = ident | "`" name "`"
//
// Identifiers start with a letter or _ and continue with letters, digits, _
// and . (a.b is one column name); other names are backquoted (a backquote
// inside is doubled). Column names are case-sensitive; keywords and
// function names are not. Strings take single or double quotes, the quote
// doubled inside, no backslash escapes. Durations: 5m, 1h30m, 250ms, 2d, 1w,
// 10us. Reserved words: and or not in between is null true false case when
// then else end like.
//
// Precedence, lowest first: or; and; not; comparisons / is null / in /
// between / like; + -; * / %; unary minus. || is the logical or.
//
// # Types
//
// int (int64), float (float64), string, bool, timestamp (µs, UTC), duration
// (µs) and null. Input columns load as: every integer type -> int (uint64
// above the int64 range: Eval fails with ErrEval rather than wrapping),
// float32/64 -> float, string/large_string/string_view/binary/dictionary
// of strings -> string, timestamps of any unit and zone and date32/date64
// -> timestamp µs UTC, durations -> duration µs, null -> null. Other types
// cannot be referenced.
//
// Conversions: int mixes with float as float. A string literal compared
// with a timestamp or a duration is parsed at compile time (an invalid one
// is a compile error). Nothing else converts implicitly: comparing a string
// with an int is the TypeError "cannot compare string with int".
//
// # Semantics
//
// SQL three-valued logic: null and false = false, null or true = true, not
// null = null; comparisons and arithmetic with null give null; x in (list)
// is null when x is null or when x is not found and the list has a null.
// int op int is int except / which is float; % truncates (sign of the
// dividend). Integer overflow (also of timestamps and durations, -MinInt64,
// abs(MinInt64)) gives null, never a wrapped number; so does division or
// modulo by zero (ints, floats and durations). Floats otherwise follow IEEE
// 754. timestamp - timestamp is a duration, timestamp ± duration a
// timestamp, duration * int and duration / int durations, duration /
// duration a float. Constant subexpressions are folded at compile time.
//
// # Functions
//
//	if(c, a, b)  case ... end  coalesce(a, ...)
//	lower upper trim ltrim rtrim (s[, chars])  length(s) (runes)
//	substr(s, start[, len]) (1-based, PostgreSQL semantics; negative len: null)
//	concat(a, ...) (nulls skipped)  contains starts_with ends_with
//	replace(s, old, new)  regex_match(s, pat)  regex_replace(s, pat, repl)
//	split_part(s, sep, n)  s like 'a%_'
//	abs round(x[, d]) floor ceil sqrt ln log10 exp pow least greatest
//	int float string bool timestamp duration (casts; a failed cast is null)
//	now() (read once per batch)  year month day hour minute second
//	day_of_week (1 = Monday) day_of_year  date_trunc(unit, t)
//	epoch_ms from_epoch_ms  parse_time(s[, layout])  format_time(t, layout)
//	hash64(x, ...) (FNV-1a 64, stable)  md5(s)  sha256(s) (lower-case hex)
//
// Regular expressions (RE2), date_trunc units and time layouts must be
// string literals. Layouts are strftime when they contain % (%Y-%m-%d
// %H:%M:%S), else Go reference layouts (2006-01-02 15:04:05).
//
// # Evaluation
//
// Compile builds a plan of typed vector nodes: each evaluates a whole batch
// into []int64, []float64, bitmaps or string offsets+bytes with a validity
// bitmap, in hand-written loops (generated by gen_kernels.go for
// comparisons and arithmetic). Literals stay scalars; columns of canonical
// types are read in place; comparisons of a column with a literal, and/or
// and in lists write selection bits directly in Select. Arithmetic and
// comparisons do not allocate per row; scratch buffers are reused across
// batches; results are allocated from the caller's allocator.
package expr

//go:generate go run gen_kernels.go
