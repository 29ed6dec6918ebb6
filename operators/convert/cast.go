package convert

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

const castName = "cast.apply"

// Cast failure policies (on_fail).
const (
	onFailError      = "error"
	onFailNull       = "null"
	onFailDeadLetter = "dead_letter"
)

// CastSpec returns cast.apply's spec (a new value on each call).
func CastSpec() *flow.Spec {
	return &flow.Spec{
		Name:    castName,
		Kind:    flow.KindTransform,
		Tags:    []string{"types", "vectorized"},
		Summary: "Convert columns to other types.",
		Description: `types maps column names to type names: int (int64; also int32, int16, int8,
uint64…uint8), float (float64; also float32), bool, string, timestamp (microseconds,
UTC) or date. Each column is converted as a whole (typed loops over the Arrow buffers);
the other columns are shared with the input, not copied. A cast column keeps its position
and becomes nullable.

Conversions:
  string → int      base-10 integers with an optional sign ("42", "-7", "+3"); surrounding
                    spaces and tabs are ignored; integral values in decimal or exponent
                    notation ("12.0", "1e3") are accepted up to 2^53; out of range fails.
  string → float    decimal and exponent notation, "NaN", "Inf"; a value beyond float32's
                    range fails for float32 (not for float64, which rounds to ±Inf).
  string → bool     true/false, t/f, yes/no, y/n, 1/0 in any case.
  string → timestamp RFC 3339 ("2024-05-01T12:00:00Z", with any offset, converted to UTC),
                    "2024-05-01 12:00:00" (UTC), a date (midnight UTC), RFC 1123.
  string → date     "2024-05-01", or any timestamp above (its UTC day).
  int ↔ int, float → int: the value must be integral and in the target's range, else
                    the cell fails (no wrapping, no rounding); NaN and ±Inf fail.
  int → float       nearest float (exact up to 2^53).
  bool → int/float  1 or 0; int/float → bool: 1 is true, 0 is false, anything else fails.
  timestamp/date ↔ timestamp/date: a timestamp becomes its UTC day; a date its midnight.
  anything → string the display text: integers in base 10, floats in their shortest
                    round-tripping form (exponent only below 1e-6 or from 1e21; NaN, +Inf,
                    -Inf), bools true/false, timestamps RFC 3339 UTC, dates 2006-01-02.
Other pairs (e.g. bool → timestamp) are an error before the run.

Nulls stay null and never fail. When a cell cannot be converted, on_fail decides:
  error (default)  the stage fails with an error naming the row (index in the stream),
                   the column, the value and the target type;
  null             the cell becomes null;
  dead_letter      the row is rejected — sent to the stage's errors port or the
                   dead-letter output with the reasons (column, value, type), and removed
                   from the output; the run goes on whatever the error strategy
                   (asking for dead_letter is asking to keep going).`,
		Params: []flow.Param{
			{Name: "types", Type: flow.TypeTable, Required: true,
				Doc: "Table of column → type name (int, float, bool, string, timestamp, date, int32, float32, ...)."},
			{Name: "on_fail", Type: flow.TypeString, Default: onFailError, Allowed: []string{onFailError, onFailNull, onFailDeadLetter},
				Doc: "What a value that cannot be converted does: error (stop), null (null cell) or dead_letter (reject the row)."},
		},
		Check:  checkCast,
		New:    newCast,
		Schema: castSchema,
		Examples: []flow.Example{
			{
				Title:  "Parse text columns",
				Config: "types = { amount = \"int\", price = \"float\", paid = \"bool\", at = \"timestamp\" }\n",
				Input:  "{\"amount\":\"12\",\"price\":\"2.50\",\"paid\":\"yes\",\"at\":\"2024-05-01 12:00:00\"}\n{\"amount\":null,\"price\":\"1e3\",\"paid\":\"0\",\"at\":\"2024-05-01T14:30:00+02:00\"}\n",
				Output: "{\"amount\":12,\"price\":2.5,\"paid\":true,\"at\":\"2024-05-01T12:00:00Z\"}\n{\"amount\":null,\"price\":1000,\"paid\":false,\"at\":\"2024-05-01T12:30:00Z\"}\n",
			},
			{
				Title:  "Bad values become null",
				Config: "types = { qty = \"int\" }\non_fail = \"null\"\n",
				Input:  "{\"id\":1,\"qty\":\"3\"}\n{\"id\":2,\"qty\":\"three\"}\n{\"id\":3,\"qty\":\"4.5\"}\n",
				Output: "{\"id\":1,\"qty\":3}\n{\"id\":2,\"qty\":null}\n{\"id\":3,\"qty\":null}\n",
			},
			{
				Title:  "Numbers to text",
				Config: "types = { id = \"string\", ratio = \"string\" }\n",
				Input:  "{\"id\":7,\"ratio\":0.25}\n{\"id\":-1,\"ratio\":1e-7}\n",
				Output: "{\"id\":\"7\",\"ratio\":\"0.25\"}\n{\"id\":\"-1\",\"ratio\":\"1e-07\"}\n",
			},
		},
	}
}

func checkCast(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	types := cfg.Table("types")
	if len(types) == 0 {
		errs = append(errs, &flow.ConfigError{Key: "types", Message: "cast.apply needs at least one column → type entry"})
	}
	for _, col := range cfg.SortedKeys("types") {
		tn, ok := types[col].(string)
		if !ok {
			errs = append(errs, &flow.ConfigError{Key: "types", Message: fmt.Sprintf("column %q: type must be a string such as \"int\"", col)})
			continue
		}
		if _, err := batch.ParseType(tn); err != nil {
			errs = append(errs, &flow.ConfigError{Key: "types", Message: fmt.Sprintf("column %q: %v", col, err)})
		}
	}
	return errs
}

type castTarget struct {
	column string
	to     arrow.DataType
}

func parseCastTargets(cfg flow.Config) ([]castTarget, error) {
	var ts []castTarget
	types := cfg.Table("types")
	for _, col := range cfg.SortedKeys("types") {
		tn, _ := types[col].(string)
		dt, err := batch.ParseType(tn)
		if err != nil {
			return nil, fmt.Errorf("%s: types: column %q: %w", castName, col, err)
		}
		ts = append(ts, castTarget{column: col, to: dt})
	}
	return ts, nil
}

// castPlan is cast.apply bound to one input schema.
type castPlan struct {
	schema    *arrow.Schema
	outSchema *arrow.Schema
	cols      []int // input column index per target
	kernels   []CastFunc
}

func bindCast(targets []castTarget, schema *arrow.Schema) (*castPlan, error) {
	p := &castPlan{schema: schema}
	fields := append([]arrow.Field(nil), schema.Fields()...)
	for _, t := range targets {
		idx, err := columnIndex(castName, schema, t.column)
		if err != nil {
			return nil, paramErr("types", err)
		}
		k, err := CastKernel(schema.Field(idx).Type, t.to)
		if err != nil {
			return nil, paramErr("types", fmt.Errorf("%s: column %q: %w", castName, t.column, err))
		}
		p.cols = append(p.cols, idx)
		p.kernels = append(p.kernels, k)
		fields[idx].Type = t.to
		fields[idx].Nullable = true
		fields[idx].Metadata = arrow.Metadata{}
	}
	meta := schema.Metadata()
	p.outSchema = arrow.NewSchema(fields, &meta)
	return p, nil
}

func castSchema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	if len(inputs) != 1 || inputs[0] == nil {
		return nil, nil
	}
	targets, err := parseCastTargets(cfg)
	if err != nil {
		return nil, paramErr("types", err)
	}
	p, err := bindCast(targets, inputs[0])
	if err != nil {
		return nil, err
	}
	return p.outSchema, nil
}

// castOp is cast.apply's Transformer. It is not safe for concurrent use.
type castOp struct {
	targets []castTarget
	onFail  string
	plan    *castPlan
	row     int64 // rows of the stream before the current batch
}

func newCast(cfg flow.Config, env flow.BuildEnv) (any, error) {
	targets, err := parseCastTargets(cfg)
	if err != nil {
		return nil, err
	}
	return &castOp{targets: targets, onFail: cfg.Str("on_fail")}, nil
}

// Transform converts the configured columns of in (borrowed); the other
// columns are shared.
func (c *castOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if c.plan == nil || (c.plan.schema != in.Schema() && !c.plan.schema.Equal(in.Schema())) {
		p, err := bindCast(c.targets, in.Schema())
		if err != nil {
			return nil, err
		}
		c.plan = p
	}
	p := c.plan
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	cols := append([]arrow.Array(nil), in.Columns()...)
	var owned []arrow.Array
	defer func() {
		for _, a := range owned {
			a.Release()
		}
	}()
	var failRows map[int32][]error // dead_letter: reasons by row
	for k, idx := range p.cols {
		src := in.Column(idx)
		out, fails := p.kernels[k](st.Alloc, src)
		owned = append(owned, out)
		cols[idx] = out
		if len(fails) == 0 {
			continue
		}
		switch c.onFail {
		case onFailError:
			i := int(fails[0])
			return nil, fmt.Errorf("%s: row %d: %w", castName, c.row+int64(i), c.valueError(src, i, k))
		case onFailDeadLetter:
			if failRows == nil {
				failRows = map[int32][]error{}
			}
			for _, i := range fails {
				failRows[i] = append(failRows[i], c.valueError(src, int(i), k))
			}
		}
	}
	res := array.NewRecordBatch(p.outSchema, cols, int64(n))
	if len(failRows) == 0 {
		c.row += int64(n)
		return res, nil
	}
	defer res.Release()
	drop := make([]int32, 0, len(failRows))
	for i := int32(0); int(i) < n; i++ {
		if _, ok := failRows[i]; ok {
			drop = append(drop, i)
		}
	}
	out, err := operators.DropRows(ctx, st.Alloc, res, drop)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", castName, err)
	}
	for _, i := range drop {
		err := st.DeadLetter(ctx, flow.Rejection{
			Err:    fmt.Errorf("%s: %w", castName, reasonFor(failRows[i])),
			Source: fmt.Sprintf("row %d", c.row+int64(i)),
			Row:    batch.Row(in, int(i)),
		})
		if err != nil {
			if out != nil {
				out.Release()
			}
			return nil, err
		}
	}
	c.row += int64(n)
	return out, nil
}

func (c *castOp) valueError(src arrow.Array, i, k int) error {
	t := c.targets[k]
	return &batch.ValueError{Column: t.column, Value: batch.Value(src, i), Type: t.to}
}
