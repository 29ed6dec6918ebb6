package pipetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
)

// maxIssues bounds the row differences listed for one expectation.
const maxIssues = 20

// relTolerance is how close two floats must be when no tolerance is set.
const relTolerance = 1e-9

// tolerance is an expectation's rule for numbers.
type tolerance struct {
	abs float64
	set bool
}

// compare checks the rows that reached an expectation's target and returns
// a readable report of the differences, or "" when they match.
func compare(e *Expect, got *collector) string {
	var out []string
	head := fmt.Sprintf("at %q: ", e.Target)
	if e.HasCount {
		if len(got.rows) == e.Count {
			return ""
		}
		out = append(out, fmt.Sprintf("%s%d %s expected, %d received", head, e.Count, plural(e.Count, "row", "rows"), len(got.rows)))
		for i, r := range got.rows {
			if i == 5 {
				out = append(out, fmt.Sprintf("  ... and %d more", len(got.rows)-5))
				break
			}
			out = append(out, fmt.Sprintf("  received row %d: %s", i+1, renderRow(r, fieldNames(got.fields))))
		}
		return strings.Join(out, "\n")
	}

	types := map[string]arrow.DataType{}
	actual := fieldNames(got.fields)
	for _, f := range got.fields {
		types[f.Name] = f.Type
	}
	// The columns compared, and what is wrong with the columns themselves.
	var cols, colIssues []string
	received := len(got.fields) > 0
	if len(e.Columns) > 0 {
		for _, c := range e.Columns {
			if received && !slices.Contains(actual, c) {
				colIssues = append(colIssues, fmt.Sprintf("column %q is expected but not received (received columns: %s)", c, strings.Join(actual, ", ")))
				continue
			}
			cols = append(cols, c)
		}
	} else if len(e.Rows) > 0 {
		var extra []string
		for _, c := range e.Data.Columns {
			if received && !slices.Contains(actual, c) {
				colIssues = append(colIssues, fmt.Sprintf("column %q is expected but not received (received columns: %s)", c, strings.Join(actual, ", ")))
			}
		}
		if received {
			for _, c := range actual {
				if slices.Contains(e.Data.Columns, c) {
					cols = append(cols, c)
				} else {
					extra = append(extra, c)
				}
			}
		} else {
			cols = e.Data.Columns
		}
		if len(extra) > 0 {
			colIssues = append(colIssues, fmt.Sprintf("received columns the expected rows do not have: %s (compare a subset with columns = [...])", strings.Join(extra, ", ")))
		}
	}
	tol := tolerance{abs: e.Tolerance, set: e.HasTolerance}
	issues, matched := diffRows(e.Rows, got.rows, cols, types, tol, e.Unordered)
	if len(colIssues) == 0 && len(issues) == 0 {
		return ""
	}
	order := "in order"
	if e.Unordered {
		order = "in any order"
	}
	out = append(out, fmt.Sprintf("%s%d %s expected (%s), %d received, %d matching", head, len(e.Rows), plural(len(e.Rows), "row", "rows"),
		order, len(got.rows), matched))
	for _, s := range colIssues {
		out = append(out, "  "+s)
	}
	for i, s := range issues {
		if i == maxIssues {
			out = append(out, fmt.Sprintf("  ... and %d more differences", len(issues)-maxIssues))
			break
		}
		out = append(out, "  "+strings.ReplaceAll(s, "\n", "\n  "))
	}
	return strings.Join(out, "\n")
}

func fieldNames(fs []arrow.Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

// diffRows lines up expected and received rows on the compared columns and
// describes every difference: rows that differ in some cells, rows out of
// order, missing and unexpected rows. It returns them with the number of
// rows that matched.
func diffRows(exp, act []map[string]any, cols []string, types map[string]arrow.DataType, tol tolerance, unordered bool) ([]string, int) {
	n, m := len(exp), len(act)
	eq := func(i, j int) bool { return rowEqual(exp[i], act[j], cols, types, tol) }
	var pairs [][2]int // matched (expected, received)
	if unordered {
		used := make([]bool, m)
		for i := range n {
			for j := range m {
				if !used[j] && eq(i, j) {
					used[j] = true
					pairs = append(pairs, [2]int{i, j})
					break
				}
			}
		}
	} else {
		pairs = lcs(n, m, eq)
	}
	matchedE := make([]bool, n)
	matchedA := make([]bool, m)
	for _, p := range pairs {
		matchedE[p[0]], matchedA[p[1]] = true, true
	}
	var missing, unexpected []int
	for i := range n {
		if !matchedE[i] {
			missing = append(missing, i)
		}
	}
	for j := range m {
		if !matchedA[j] {
			unexpected = append(unexpected, j)
		}
	}
	type issue struct {
		pos  int // expected index (received index + n for unexpected rows)
		text string
	}
	var issues []issue
	takeA := func(j int) { unexpected = slices.DeleteFunc(unexpected, func(x int) bool { return x == j }) }
	for _, i := range missing {
		// In order: the same row received elsewhere.
		if !unordered {
			if k := slices.IndexFunc(unexpected, func(j int) bool { return eq(i, j) }); k >= 0 {
				j := unexpected[k]
				takeA(j)
				issues = append(issues, issue{i, fmt.Sprintf("row %d received out of order, as row %d: %s", i+1, j+1, renderRow(exp[i], cols))})
				continue
			}
		}
		// The received row most like it, when at least half the cells agree.
		best, bestScore := -1, 0
		for _, j := range unexpected {
			s := 0
			for _, c := range cols {
				if valueEqual(exp[i][c], act[j][c], types[c], tol) {
					s++
				}
			}
			if s > bestScore {
				best, bestScore = j, s
			}
		}
		if best >= 0 && len(cols) > 1 && 2*bestScore >= len(cols) {
			takeA(best)
			var cells []string
			for _, c := range cols {
				if !valueEqual(exp[i][c], act[best][c], types[c], tol) {
					cells = append(cells, fmt.Sprintf("  %s: expected %s, received %s", c, renderValue(exp[i][c]), renderValue(act[best][c])))
				}
			}
			where := fmt.Sprintf("row %d differs", i+1)
			if best != i {
				where = fmt.Sprintf("row %d differs (received as row %d)", i+1, best+1)
			}
			issues = append(issues, issue{i, fmt.Sprintf("%s: %s\n%s", where, renderRow(exp[i], cols), strings.Join(cells, "\n"))})
			continue
		}
		issues = append(issues, issue{i, fmt.Sprintf("missing row %d: %s", i+1, renderRow(exp[i], cols))})
	}
	for _, j := range unexpected {
		issues = append(issues, issue{n + j, fmt.Sprintf("unexpected received row %d: %s", j+1, renderRow(act[j], cols))})
	}
	slices.SortStableFunc(issues, func(a, b issue) int { return a.pos - b.pos })
	out := make([]string, len(issues))
	for i, is := range issues {
		out[i] = is.text
	}
	return out, len(pairs)
}

// lcs pairs expected and received rows in order: a longest common
// subsequence. Over a million cell pairs it lines them up by position.
func lcs(n, m int, eq func(i, j int) bool) [][2]int {
	var pairs [][2]int
	if n*m > 1_000_000 {
		for i := range min(n, m) {
			if eq(i, i) {
				pairs = append(pairs, [2]int{i, i})
			}
		}
		return pairs
	}
	same := make([]bool, n*m)
	for i := range n {
		for j := range m {
			same[i*m+j] = eq(i, j)
		}
	}
	w := m + 1
	L := make([]int, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if same[i*m+j] {
				L[i*w+j] = 1 + L[(i+1)*w+j+1]
			} else {
				L[i*w+j] = max(L[(i+1)*w+j], L[i*w+j+1])
			}
		}
	}
	for i, j := 0, 0; i < n && j < m; {
		switch {
		case same[i*m+j]:
			pairs = append(pairs, [2]int{i, j})
			i++
			j++
		case L[(i+1)*w+j] >= L[i*w+j+1]:
			i++
		default:
			j++
		}
	}
	return pairs
}

func rowEqual(e, a map[string]any, cols []string, types map[string]arrow.DataType, tol tolerance) bool {
	for _, c := range cols {
		if !valueEqual(e[c], a[c], types[c], tol) {
			return false
		}
	}
	return true
}

// valueEqual compares an expected value (normalised from TOML or JSON)
// with a received one (batch.Row's form) of column type dt. Numbers
// compare by value (an int equals the same float), within the tolerance;
// timestamps and dates as instants, whatever their text form; nested
// values as JSON.
func valueEqual(exp, act any, dt arrow.DataType, tol tolerance) bool {
	if exp == nil || act == nil {
		return exp == nil && act == nil
	}
	if dt != nil {
		switch dt.ID() {
		case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
			a, ok1 := timeMicros(act)
			e, ok2 := timeMicros(exp)
			if ok1 && ok2 {
				return a == e
			}
		}
	}
	if an, ok := numberOf(act); ok {
		en, ok := numberOf(exp)
		return ok && numEqual(en, an, tol)
	}
	switch a := act.(type) {
	case string:
		e, ok := exp.(string)
		if ok && e == a {
			return true
		}
		if dt == nil || !strings.HasPrefix(strings.TrimSpace(a), "{") && !strings.HasPrefix(strings.TrimSpace(a), "[") {
			return false
		}
	case bool:
		e, ok := exp.(bool)
		return ok && e == a
	}
	ce, ok1 := canonical(exp)
	ca, ok2 := canonical(act)
	return ok1 && ok2 && jsonEqual(ce, ca, tol)
}

func timeMicros(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	return batch.ParseTimestamp([]byte(s))
}

type number struct {
	f     float64
	i     int64
	isInt bool
}

func numberOf(v any) (number, bool) {
	switch x := v.(type) {
	case int64:
		return number{float64(x), x, true}, true
	case int:
		return number{float64(x), int64(x), true}, true
	case uint64:
		if x <= math.MaxInt64 {
			return number{float64(x), int64(x), true}, true
		}
		return number{f: float64(x)}, true
	case float64:
		return number{f: x}, true
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := x.Int64(); err == nil {
				return number{float64(i), i, true}, true
			}
		}
		if f, err := x.Float64(); err == nil {
			return number{f: f}, true
		}
	}
	return number{}, false
}

func numEqual(a, b number, tol tolerance) bool {
	if tol.set {
		return math.Abs(a.f-b.f) <= tol.abs
	}
	if a.isInt && b.isInt {
		return a.i == b.i
	}
	if a.f == b.f {
		return true
	}
	return math.Abs(a.f-b.f) <= relTolerance*math.Max(math.Abs(a.f), math.Abs(b.f))
}

// canonical turns a value into generic JSON (maps, slices, json.Number,
// strings, bools, nil); JSON text is parsed.
func canonical(v any) (any, bool) {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	case string:
		raw = []byte(x)
		if !json.Valid(raw) {
			return x, true
		}
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, false
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, false
	}
	return out, true
}

func jsonEqual(a, b any, tol tolerance) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w, tol) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i], tol) {
				return false
			}
		}
		return true
	case json.Number:
		an, _ := numberOf(x)
		bn, ok := numberOf(b)
		return ok && numEqual(an, bn, tol)
	}
	return a == b
}

// renderRow shows a row as a JSON object of the given columns.
func renderRow(r map[string]any, cols []string) string {
	if cols == nil {
		cols = sortedKeys(r)
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(c))
		b.WriteString(": ")
		b.WriteString(renderValue(r[c]))
	}
	b.WriteByte('}')
	return b.String()
}

// renderValue shows a value as JSON.
func renderValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case json.Number:
		return string(x)
	case json.RawMessage:
		return string(x)
	case float64:
		return fmt.Sprint(floatNumber(x))
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
