package validate

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/convert"
	"github.com/conveyor-etl/conveyor/operators/expr"
)

// issues collects the failures of one batch: which rows are invalid (a
// per-row validity map every check writes into) and the reasons of each.
type issues struct {
	bad     []bool
	reasons [][]string // nil when reasons are not wanted (on_invalid = drop)
	count   int        // invalid rows
}

func newIssues(n int, withReasons bool) *issues {
	s := &issues{bad: make([]bool, n)}
	if withReasons {
		s.reasons = make([][]string, n)
	}
	return s
}

// wantReasons reports whether checks should describe failures (building
// a reason allocates; under on_invalid = drop nobody reads them).
func (s *issues) wantReasons() bool { return s.reasons != nil }

// add marks row i invalid for reason.
func (s *issues) add(i int, reason string) {
	if !s.bad[i] {
		s.bad[i] = true
		s.count++
	}
	if s.reasons != nil {
		s.reasons[i] = append(s.reasons[i], reason)
	}
}

// addAll marks every row invalid for reason.
func (s *issues) addAll(reason string) {
	for i := range s.bad {
		s.add(i, reason)
	}
}

func (s *issues) first() int {
	for i, b := range s.bad {
		if b {
			return i
		}
	}
	return -1
}

// check is one rule bound to a schema: it evaluates a whole batch and
// reports the rows that break it. New kinds of rules (e.g. boolean
// expressions evaluated to a column) plug in as further checks.
type check interface {
	eval(mem memory.Allocator, b arrow.RecordBatch, iss *issues) error
}

// predicateCheck is a rule computed as a boolean column over the batch
// (the hook for validate.schema's `rules`, boolean expressions in the
// expression language): a row is invalid where the column is false or
// null, with the reason "<name>: rule failed".
type predicateCheck struct {
	name string
	fn   func(mem memory.Allocator, b arrow.RecordBatch) (*array.Boolean, error)
}

func (c predicateCheck) eval(mem memory.Allocator, b arrow.RecordBatch, iss *issues) error {
	res, err := c.fn(mem, b)
	if err != nil {
		return fmt.Errorf("rule %q: %w", c.name, err)
	}
	defer res.Release()
	for i := 0; i < res.Len(); i++ {
		if res.IsNull(i) || !res.Value(i) {
			iss.add(i, c.name+": rule failed")
		}
	}
	return nil
}

var _ check = predicateCheck{}

// bound is the rules bound to one schema.
type bound struct {
	checks    []check
	uniqueIdx []int
}

func (r rules) bind(schema *arrow.Schema) (*bound, error) {
	b := &bound{}
	// Presence and nulls: one check per column; required wins over
	// non_nullable when a column is in both.
	label := map[string]string{}
	var order []string
	for _, c := range r.nonNullable {
		if _, ok := label[c]; !ok {
			order = append(order, c)
		}
		label[c] = "non-nullable"
	}
	for _, c := range r.required {
		if _, ok := label[c]; !ok {
			order = append(order, c)
		}
		label[c] = "required"
	}
	for _, c := range order {
		if idx := schema.FieldIndices(c); len(idx) > 0 {
			b.checks = append(b.checks, nullCheck{idx: idx[0], reason: c + ": null in " + label[c] + " field"})
		} else {
			b.checks = append(b.checks, missingCheck{reason: c + ": missing " + label[c] + " field"})
		}
	}
	for _, t := range r.types {
		idx, err := columnIndex(schema, "field_types", t.column)
		if err != nil {
			return nil, err
		}
		b.checks = append(b.checks, newTypeCheck(idx, t, schema.Field(idx).Type))
	}
	for _, c := range r.dates {
		idx, err := columnIndex(schema, "date_fields", c)
		if err != nil {
			return nil, err
		}
		b.checks = append(b.checks, dateCheck{idx: idx, column: c})
	}
	for _, x := range r.exprs {
		p, err := expr.CompileExpr(x.e, schema)
		if err != nil {
			return nil, &flow.ParamError{Key: "rules", Err: fmt.Errorf("%s: rules.%s: %w", stageName, x.name, err)}
		}
		if id := p.Type().ID(); id != arrow.BOOL && id != arrow.NULL {
			return nil, &flow.ParamError{Key: "rules", Err: fmt.Errorf("%s: rules.%s: %q is not a condition (true/false): it gives %s", stageName, x.name, x.e.String(), p.Type())}
		}
		b.checks = append(b.checks, predicateCheck{name: x.name, fn: func(mem memory.Allocator, b arrow.RecordBatch) (*array.Boolean, error) {
			arr, err := p.Eval(mem, b)
			if err != nil {
				return nil, err
			}
			if bl, ok := arr.(*array.Boolean); ok {
				return bl, nil
			}
			// A null-typed result: every row fails.
			n := arr.Len()
			arr.Release()
			bb := array.NewBooleanBuilder(mem)
			defer bb.Release()
			bb.AppendNulls(n)
			return bb.NewBooleanArray(), nil
		}})
	}
	for _, c := range r.unique {
		idx, err := columnIndex(schema, "unique", c)
		if err != nil {
			return nil, err
		}
		b.uniqueIdx = append(b.uniqueIdx, idx)
	}
	return b, nil
}

// missingCheck: a required column is absent, so every row fails.
type missingCheck struct{ reason string }

func (c missingCheck) eval(_ memory.Allocator, _ arrow.RecordBatch, iss *issues) error {
	iss.addAll(c.reason)
	return nil
}

// nullCheck: the column's nulls fail.
type nullCheck struct {
	idx    int
	reason string
}

func (c nullCheck) eval(_ memory.Allocator, b arrow.RecordBatch, iss *issues) error {
	col := b.Column(c.idx)
	if col.NullN() == 0 {
		return nil
	}
	for i := 0; i < col.Len(); i++ {
		if col.IsNull(i) {
			iss.add(i, c.reason)
		}
	}
	return nil
}

// typeCheck: the values must convert to a type as cast.apply converts
// them.
type typeCheck struct {
	idx    int
	column string
	what   string // "an int"
	kernel convert.CastFunc
}

func newTypeCheck(idx int, t typeRule, from arrow.DataType) check {
	k, err := convert.CastKernel(from, t.to)
	if err != nil {
		k = nil // no conversion: every non-null value fails
	}
	return typeCheck{idx: idx, column: t.column, what: article(typeWord(t.name)), kernel: k}
}

// typeWord is the user-facing name of a type name as written.
func typeWord(name string) string {
	switch name {
	case "int", "int64", "integer", "long", "bigint":
		return "int"
	case "float", "float64", "double", "number":
		return "float"
	case "bool", "boolean":
		return "bool"
	case "string", "str", "text", "utf8":
		return "string"
	case "timestamp", "datetime":
		return "timestamp"
	}
	return name
}

func article(w string) string {
	switch w[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + w
	}
	return "a " + w
}

func (c typeCheck) eval(mem memory.Allocator, b arrow.RecordBatch, iss *issues) error {
	col := b.Column(c.idx)
	if c.kernel == nil {
		for i := 0; i < col.Len(); i++ {
			if col.IsValid(i) {
				iss.add(i, c.reasonIf(iss, col, i))
			}
		}
		return nil
	}
	out, fails := c.kernel(mem, col)
	out.Release()
	for _, i := range fails {
		iss.add(int(i), c.reasonIf(iss, col, int(i)))
	}
	return nil
}

func (c typeCheck) reasonIf(iss *issues, col arrow.Array, i int) string {
	if !iss.wantReasons() {
		return ""
	}
	return fmt.Sprintf("%s: not %s: %s", c.column, c.what, describe(col, i))
}

// describe renders a value for a reason: strings quoted, others as text,
// long values cut.
func describe(col arrow.Array, i int) string {
	const max = 60
	s := batch.FormatValue(col, i)
	cut := len(s) > max
	if cut {
		s = s[:max]
	}
	switch col.DataType().ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		s = strconv.Quote(s)
	}
	if cut {
		s += "…"
	}
	return s
}

// dateCheck: the values must be dates or timestamps.
type dateCheck struct {
	idx    int
	column string
}

func (c dateCheck) eval(_ memory.Allocator, b arrow.RecordBatch, iss *issues) error {
	col := b.Column(c.idx)
	switch col.DataType().ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
		return nil
	case arrow.STRING:
		a := col.(*array.String)
		offs := a.ValueOffsets()
		data := a.ValueBytes()
		base := offs[0]
		var p batch.TimestampParser
		for i := 0; i < a.Len(); i++ {
			if a.IsValid(i) {
				if _, ok := p.Parse(data[offs[i]-base : offs[i+1]-base]); !ok {
					iss.add(i, c.reasonIf(iss, col, i))
				}
			}
		}
		return nil
	}
	for i := 0; i < col.Len(); i++ {
		if col.IsValid(i) {
			iss.add(i, c.reasonIf(iss, col, i))
		}
	}
	return nil
}

func (c dateCheck) reasonIf(iss *issues, col arrow.Array, i int) string {
	if !iss.wantReasons() {
		return ""
	}
	return fmt.Sprintf("%s: not a date: %s", c.column, describe(col, i))
}

// ---- uniqueness ----

// uniqueSet is the set of values one unique column has shown so far.
// Values compare within their kind: integers (and timestamps, dates) as
// int64, floats by value (-0 equals 0, NaN equals NaN), strings and
// everything else by their text. The values added by the current batch
// are also listed, so that a failed batch can be undone.
type uniqueSet struct {
	ints  map[int64]struct{}
	uints map[uint64]struct{}
	strs  map[string]struct{}
	bytes int64 // estimated memory held

	newInts  []int64
	newUints []uint64
	newStrs  []string
}

func newUniqueSet() *uniqueSet {
	return &uniqueSet{ints: map[int64]struct{}{}, uints: map[uint64]struct{}{}, strs: map[string]struct{}{}}
}

const mapEntryOverhead = 24

// commit keeps the current batch's values.
func (s *uniqueSet) commit() {
	s.newInts, s.newUints, s.newStrs = s.newInts[:0], s.newUints[:0], s.newStrs[:0]
}

// rollback forgets the current batch's values.
func (s *uniqueSet) rollback() {
	for _, x := range s.newInts {
		delete(s.ints, x)
		s.bytes -= 8 + mapEntryOverhead
	}
	for _, x := range s.newUints {
		delete(s.uints, x)
		s.bytes -= 8 + mapEntryOverhead
	}
	for _, x := range s.newStrs {
		delete(s.strs, x)
		s.bytes -= int64(len(x) + 16 + mapEntryOverhead)
	}
	s.commit()
}

// checkUnique marks the rows (valid so far) whose value in a unique column
// was seen before, and records the values of the rows that stay valid
// (pending until commit or rollback).
func (v *validator) checkUnique(b arrow.RecordBatch, iss *issues) {
	n := int(b.NumRows())
	keys := make([]uniqueKeyer, len(v.uniq))
	for k, idx := range v.uniqIdx {
		keys[k] = keyerFor(b.Column(idx))
	}
	var dup []string
	for i := 0; i < n; i++ {
		if iss.bad[i] {
			continue
		}
		dup = dup[:0]
		for k, set := range v.uniq {
			if keys[k].has(set, i) {
				if !iss.wantReasons() {
					dup = append(dup, "")
					continue
				}
				dup = append(dup, fmt.Sprintf("%s: duplicate value %s", v.rules.unique[k], describe(b.Column(v.uniqIdx[k]), i)))
			}
		}
		if len(dup) > 0 {
			for _, r := range dup {
				iss.add(i, r)
			}
			continue
		}
		for k, set := range v.uniq {
			keys[k].add(set, i)
		}
	}
}

// uniqueKeyer reads the keys of one column of one batch.
type uniqueKeyer struct {
	col   arrow.Array
	ints  func(i int) int64
	uints func(i int) uint64
	strs  func(i int) string
}

func keyerFor(col arrow.Array) uniqueKeyer {
	k := uniqueKeyer{col: col}
	switch a := col.(type) {
	case *array.Int64:
		k.ints = func(i int) int64 { return a.Value(i) }
	case *array.Int32:
		k.ints = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int16:
		k.ints = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Int8:
		k.ints = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint64:
		k.uints = func(i int) uint64 { return a.Value(i) }
	case *array.Uint32:
		k.ints = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint16:
		k.ints = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Uint8:
		k.ints = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Timestamp:
		k.ints = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Date32:
		k.ints = func(i int) int64 { return int64(a.Value(i)) }
	case *array.Float64:
		k.uints = func(i int) uint64 { return floatKey(a.Value(i)) }
	case *array.Float32:
		k.uints = func(i int) uint64 { return floatKey(float64(a.Value(i))) }
	case *array.String:
		k.strs = a.Value
	default:
		k.strs = func(i int) string { return batch.FormatValue(col, i) }
	}
	return k
}

func floatKey(f float64) uint64 {
	switch {
	case f == 0:
		return 0
	case math.IsNaN(f):
		return math.Float64bits(math.NaN())
	}
	return math.Float64bits(f)
}

func (k uniqueKeyer) has(s *uniqueSet, i int) bool {
	if k.col.IsNull(i) {
		return false
	}
	switch {
	case k.ints != nil:
		_, ok := s.ints[k.ints(i)]
		return ok
	case k.uints != nil:
		_, ok := s.uints[k.uints(i)]
		return ok
	}
	_, ok := s.strs[k.strs(i)]
	return ok
}

// add records row i's value (nulls are not recorded).
func (k uniqueKeyer) add(s *uniqueSet, i int) {
	if k.col.IsNull(i) {
		return
	}
	switch {
	case k.ints != nil:
		x := k.ints(i)
		s.ints[x] = struct{}{}
		s.newInts = append(s.newInts, x)
		s.bytes += 8 + mapEntryOverhead
	case k.uints != nil:
		x := k.uints(i)
		s.uints[x] = struct{}{}
		s.newUints = append(s.newUints, x)
		s.bytes += 8 + mapEntryOverhead
	default:
		x := strings.Clone(k.strs(i)) // own the bytes: the batch is released later
		s.strs[x] = struct{}{}
		s.newStrs = append(s.newStrs, x)
		s.bytes += int64(len(x) + 16 + mapEntryOverhead)
	}
}
