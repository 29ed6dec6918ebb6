// Package validate provides validate.schema: row-level validation of
// presence, nullability, types, date formats and uniqueness.
package validate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/operators/expr"
)

const stageName = "validate.schema"

// ErrInvalidRow is wrapped by the error that stops a run under
// on_invalid = "fail", and by every rejection's reason.
var ErrInvalidRow = errors.New("invalid row")

// Register adds validate.schema to r.
func Register(r *flow.Registry) { r.Register(Spec()) }

// on_invalid policies.
const (
	onInvalidFail       = "fail"
	onInvalidDrop       = "drop"
	onInvalidDeadLetter = "dead_letter"
)

// Spec returns validate.schema's spec (a new value on each call).
func Spec() *flow.Spec {
	return &flow.Spec{
		Name:    stageName,
		Kind:    flow.KindTransform,
		Tags:    []string{"quality"},
		Summary: "Check rows against presence, type, date-format and uniqueness rules.",
		Description: `Every row is checked against every configured rule; a row that breaks one or more is
invalid, with one reason per broken rule, written "column: reason":

  required_fields  the column must exist and the value must not be null. A column
                   missing from the input makes every row invalid ("x: missing
                   required field"); a null value gives "x: null in required field".
  non_nullable     the value must not be null ("x: null in non-nullable field"; a missing
                   column: "x: missing non-nullable field").
  field_types      table column → type name (int, float, bool, string, timestamp, date,
                   int32, ...). A value conforms when cast.apply would convert it to that
                   type without failure: a column already of the type passes, an int
                   column passes as float, a float passes as int when integral, a string
                   must parse ("amount: not an int: \"abc\""). Nulls pass (use
                   non_nullable to forbid them).
  date_fields      the value must be a date or timestamp: a date or timestamp column
                   passes; a string must parse as RFC 3339, "2006-01-02 15:04:05" or
                   "2006-01-02" (and the other forms cast.apply takes); nulls pass.
  unique           each listed column, on its own, must not repeat a value across the
                   whole stream: the second and later occurrences are invalid ("id:
                   duplicate value 42"). Nulls are not compared (any number of nulls is
                   allowed). Only rows valid under every other rule take part, so a row
                   dropped for another reason does not claim its value. The values seen
                   are kept in memory (reported as the stage's peak memory).

  rules            table rule name → condition in the expression language
                   (docs/expressions.md), e.g. positive = "amount > 0", window =
                   "ends_at >= starts_at". A row where the condition is false or null is
                   invalid ("positive: rule failed"). Conditions are type-checked before
                   the run, like filter.apply's expr.

A column named in field_types, date_fields or unique must exist in the input (an
unknown name is an error before the run, suggesting the nearest column).

on_invalid decides what happens to invalid rows:
  fail (default)  the stage fails at the first invalid row, with an error naming the row
                  (0-based index in the stream) and its reasons;
  drop            invalid rows are removed; their count is logged at the end of input;
  dead_letter     each invalid row is rejected with all its reasons joined by "; " — sent
                  to the stage's errors port or the dead-letter output, and removed from the
                  output; the run goes on whatever the error strategy (asking for
                  dead_letter is asking to keep going).
Valid rows pass unchanged, in input order; when every row of a batch is valid the batch
is passed through without copying.`,
		Params: []flow.Param{
			{Name: "required_fields", Type: flow.TypeStringOrList, Doc: "Columns that must exist and be non-null."},
			{Name: "field_types", Type: flow.TypeTable, Doc: "Table of column → type name each value must conform to."},
			{Name: "non_nullable", Type: flow.TypeStringOrList, Doc: "Columns whose values must not be null."},
			{Name: "unique", Type: flow.TypeStringOrList, Doc: "Columns whose values must not repeat across the stream (each column on its own)."},
			{Name: "date_fields", Type: flow.TypeStringOrList, Doc: "Columns whose values must be dates or timestamps (RFC 3339 or YYYY-MM-DD text)."},
			{Name: "rules", Type: flow.TypeTable, Doc: "Table of rule name → condition in the expression language; a row where it is false or null is invalid (\"name: rule failed\")."},
			{Name: "on_invalid", Type: flow.TypeString, Default: onInvalidFail, Allowed: []string{onInvalidFail, onInvalidDrop, onInvalidDeadLetter},
				Doc: "fail (stop at the first invalid row), drop (remove and count) or dead_letter (reject with the reasons)."},
		},
		Check:  checkConfig,
		New:    newValidator,
		Schema: schemaOf,
		Examples: []flow.Example{
			{
				Title:  "Drop rows without an email or with a bad amount",
				Config: "required_fields = [\"email\"]\nfield_types = { amount = \"int\" }\non_invalid = \"drop\"\n",
				Input:  "{\"email\":\"a@x.org\",\"amount\":\"12\"}\n{\"email\":null,\"amount\":\"3\"}\n{\"email\":\"b@x.org\",\"amount\":\"abc\"}\n{\"email\":\"ç@x.org\",\"amount\":null}\n",
				Output: "{\"email\":\"a@x.org\",\"amount\":\"12\"}\n{\"email\":\"ç@x.org\",\"amount\":null}\n",
			},
			{
				Title:  "Unique ids and dates",
				Config: "unique = [\"id\"]\ndate_fields = [\"day\"]\non_invalid = \"drop\"\n",
				Input:  "{\"id\":1,\"day\":\"2024-05-01\"}\n{\"id\":2,\"day\":\"May 1st\"}\n{\"id\":1,\"day\":\"2024-05-02T10:00:00Z\"}\n{\"id\":2,\"day\":\"2024-05-03\"}\n",
				Output: "{\"id\":1,\"day\":\"2024-05-01\"}\n{\"id\":2,\"day\":\"2024-05-03\"}\n",
			},
			{
				Title:  "All rows valid",
				Config: "non_nullable = [\"name\"]\nfield_types = { score = \"float\" }\n",
				Input:  "{\"name\":\"Zoë\",\"score\":1}\n{\"name\":\"Li\",\"score\":2.5}\n",
				Output: "{\"name\":\"Zoë\",\"score\":1}\n{\"name\":\"Li\",\"score\":2.5}\n",
			},
			{
				Title:  "Rules as expressions",
				Config: "rules = { positive = \"amount > 0\", ordered = \"ends >= starts\" }\non_invalid = \"drop\"\n",
				Input:  "{\"amount\":5,\"starts\":1,\"ends\":2}\n{\"amount\":-1,\"starts\":1,\"ends\":2}\n{\"amount\":3,\"starts\":4,\"ends\":2}\n{\"amount\":null,\"starts\":1,\"ends\":1}\n",
				Output: "{\"amount\":5,\"starts\":1,\"ends\":2}\n",
			},
		},
	}
}

func checkConfig(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	for _, col := range cfg.SortedKeys("field_types") {
		tn, ok := cfg.Table("field_types")[col].(string)
		if !ok {
			errs = append(errs, &flow.ConfigError{Key: "field_types", Message: fmt.Sprintf("column %q: type must be a string such as \"int\"", col)})
			continue
		}
		if _, err := batch.ParseType(tn); err != nil {
			errs = append(errs, &flow.ConfigError{Key: "field_types", Message: fmt.Sprintf("column %q: %v", col, err)})
		}
	}
	some := false
	for _, k := range []string{"required_fields", "field_types", "non_nullable", "unique", "date_fields", "rules"} {
		some = some || cfg.Has(k)
	}
	if !some {
		errs = append(errs, &flow.ConfigError{Key: "required_fields", Message: "validate.schema needs at least one of required_fields, field_types, non_nullable, unique, date_fields or rules"})
	}
	return errs
}

// rules is the parsed configuration.
type rules struct {
	required, nonNullable, unique, dates []string
	types                                []typeRule
	exprs                                []exprRule
}

// exprRule is a named condition of `rules`, in the expression language.
type exprRule struct {
	name string
	e    *expr.Expr
}

type typeRule struct {
	column, name string
	to           arrow.DataType
}

func parseRules(cfg flow.Config) (rules, error) {
	r := rules{
		required:    cfg.Strings("required_fields"),
		nonNullable: cfg.Strings("non_nullable"),
		unique:      cfg.Strings("unique"),
		dates:       cfg.Strings("date_fields"),
	}
	for _, col := range cfg.SortedKeys("field_types") {
		tn, _ := cfg.Table("field_types")[col].(string)
		dt, err := batch.ParseType(tn)
		if err != nil {
			return r, fmt.Errorf("%s: field_types: column %q: %w", stageName, col, err)
		}
		r.types = append(r.types, typeRule{column: col, name: strings.ToLower(strings.TrimSpace(tn)), to: dt})
	}
	for _, name := range cfg.SortedKeys("rules") {
		src, ok := cfg.Table("rules")[name].(string)
		if !ok {
			return r, &flow.ParamError{Key: "rules", Err: fmt.Errorf("%s: rules.%s must be a condition (a string)", stageName, name)}
		}
		e, err := expr.Parse(src)
		if err != nil {
			return r, &flow.ParamError{Key: "rules", Err: fmt.Errorf("%s: rules.%s: %w", stageName, name, err)}
		}
		r.exprs = append(r.exprs, exprRule{name: name, e: e})
	}
	return r, nil
}

func columnIndex(schema *arrow.Schema, key, name string) (int, error) {
	if idx := schema.FieldIndices(name); len(idx) > 0 {
		return idx[0], nil
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	return -1, &flow.ParamError{Key: key, Err: &operators.UnknownColumnError{Stage: stageName, Column: name, Suggestion: flow.Nearest(name, names), Available: names}}
}

func schemaOf(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	if len(inputs) != 1 || inputs[0] == nil {
		return nil, nil
	}
	r, err := parseRules(cfg)
	if err != nil {
		return nil, &flow.ParamError{Key: "field_types", Err: err}
	}
	if _, err := r.bind(inputs[0]); err != nil {
		return nil, err
	}
	return inputs[0], nil
}

// validator is validate.schema's Transformer (and Flusher). It is not
// safe for concurrent use.
type validator struct {
	rules     rules
	onInvalid string
	schema    *arrow.Schema
	checks    []check
	uniq      []*uniqueSet // one per unique column, kept across batches and schemas
	uniqIdx   []int        // column index of each unique column in schema
	row       int64        // rows of the stream before the current batch
	dropped   int64
}

func newValidator(cfg flow.Config, env flow.BuildEnv) (any, error) {
	r, err := parseRules(cfg)
	if err != nil {
		return nil, err
	}
	v := &validator{rules: r, onInvalid: cfg.Str("on_invalid")}
	for range r.unique {
		v.uniq = append(v.uniq, newUniqueSet())
	}
	return v, nil
}

// Transform passes the valid rows of in (borrowed) on and handles the
// invalid ones as on_invalid says.
func (v *validator) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if v.schema == nil || (v.schema != in.Schema() && !v.schema.Equal(in.Schema())) {
		b, err := v.rules.bind(in.Schema())
		if err != nil {
			return nil, err
		}
		v.schema, v.checks, v.uniqIdx = in.Schema(), b.checks, b.uniqueIdx
	}
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	iss := newIssues(n, v.onInvalid != onInvalidDrop)
	for _, c := range v.checks {
		if err := c.eval(st.Alloc, in, iss); err != nil {
			return nil, fmt.Errorf("%s: %w", stageName, err)
		}
	}
	// Uniqueness last: only rows valid so far claim their values.
	if len(v.uniq) > 0 {
		v.checkUnique(in, iss)
	}
	rollback := func() {
		for _, u := range v.uniq {
			u.rollback()
		}
	}
	commit := func() {
		for _, u := range v.uniq {
			u.commit()
		}
	}
	if iss.count == 0 {
		commit()
		v.row += int64(n)
		v.notePeak(st)
		in.Retain()
		return in, nil
	}
	if v.onInvalid == onInvalidFail {
		rollback()
		i := iss.first()
		return nil, fmt.Errorf("%s: row %d: %w: %s", stageName, v.row+int64(i), ErrInvalidRow, strings.Join(iss.reasons[i], "; "))
	}
	drop := make([]int32, 0, iss.count)
	for i, bad := range iss.bad {
		if bad {
			drop = append(drop, int32(i))
		}
	}
	out, err := operators.DropRows(ctx, st.Alloc, in, drop)
	if err != nil {
		rollback()
		return nil, fmt.Errorf("%s: %w", stageName, err)
	}
	if v.onInvalid == onInvalidDeadLetter {
		for _, i := range drop {
			err := st.DeadLetter(ctx, flow.Rejection{
				Err:    fmt.Errorf("%s: %w: %s", stageName, ErrInvalidRow, strings.Join(iss.reasons[i], "; ")),
				Source: fmt.Sprintf("row %d", v.row+int64(i)),
				Row:    batch.Row(in, int(i)),
			})
			if err != nil {
				rollback()
				if out != nil {
					out.Release()
				}
				return nil, err
			}
		}
	} else {
		v.dropped += int64(len(drop))
	}
	commit()
	v.row += int64(n)
	v.notePeak(st)
	return out, nil
}

// Flush logs how many rows on_invalid = "drop" removed.
func (v *validator) Flush(ctx context.Context, st *flow.Stage) error {
	if v.onInvalid == onInvalidDrop && st.Logger != nil {
		st.Logger.Info("validate.schema: dropped invalid rows", "dropped", v.dropped, "rows", v.row)
	}
	return nil
}

// Dropped is the number of rows removed under on_invalid = "drop".
func (v *validator) Dropped() int64 { return v.dropped }

func (v *validator) notePeak(st *flow.Stage) {
	if len(v.uniq) == 0 {
		return
	}
	var total int64
	for _, u := range v.uniq {
		total += u.bytes
	}
	if total > st.Metrics().PeakBytes.Load() {
		st.Metrics().PeakBytes.Store(total)
	}
}
