package aggregate

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/operators/internal/rowkey"
)

// aggSpec is one configured aggregation.
type aggSpec struct {
	column string // "" for count of rows
	op     string
	out    string
}

// parseAggs reads groupby's `aggregations` list (or reduce's single
// column/operation/output_column), filling default output names.
func parseAggs(stage string, cfg flow.Config) ([]aggSpec, []*flow.ConfigError) {
	var specs []aggSpec
	var errs []*flow.ConfigError
	add := func(key string, m map[string]any) {
		var a aggSpec
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				errs = append(errs, &flow.ConfigError{Key: key, Message: fmt.Sprintf("%s: %q must be a string", stage, k)})
				continue
			}
			switch k {
			case "column":
				a.column = s
			case "operation":
				a.op = s
			case "output_column":
				a.out = s
			default:
				errs = append(errs, &flow.ConfigError{Key: key, Message: fmt.Sprintf("%s: unknown aggregation key %q (keys: column, operation, output_column)", stage, k)})
			}
		}
		if a.column == "*" {
			a.column = ""
		}
		switch {
		case a.op == "":
			errs = append(errs, &flow.ConfigError{Key: key, Message: fmt.Sprintf("%s: aggregation without an operation (one of %v)", stage, operations)})
			return
		case !contains(operations, a.op):
			msg := fmt.Sprintf("%s: unknown operation %q (one of %v)", stage, a.op, operations)
			if n := flow.Nearest(a.op, operations); n != "" {
				msg = fmt.Sprintf("%s: unknown operation %q (did you mean %q?)", stage, a.op, n)
			}
			errs = append(errs, &flow.ConfigError{Key: key, Message: msg})
			return
		case a.column == "" && a.op != opCount:
			errs = append(errs, &flow.ConfigError{Key: key, Message: fmt.Sprintf("%s: %s needs a column (only count may omit it or use \"*\")", stage, a.op)})
			return
		}
		if a.out == "" {
			if a.column == "" {
				a.out = "count"
			} else {
				a.out = a.column + "_" + a.op
			}
		}
		specs = append(specs, a)
	}
	if cfg.Has("aggregations") {
		for i, x := range cfg.List("aggregations") {
			m, ok := x.(map[string]any)
			if !ok {
				errs = append(errs, &flow.ConfigError{Key: "aggregations", Message: fmt.Sprintf("%s: aggregation %d must be a table {column, operation, output_column}", stage, i+1)})
				continue
			}
			add("aggregations", m)
		}
	}
	if cfg.Has("operation") || cfg.Has("column") {
		m := map[string]any{}
		for _, k := range []string{"column", "operation", "output_column"} {
			if cfg.Has(k) {
				m[k] = cfg.Str(k)
			}
		}
		add("operation", m)
	}
	seen := map[string]bool{}
	for _, k := range cfg.Strings("by") {
		seen[k] = true
	}
	for _, a := range specs {
		if seen[a.out] {
			errs = append(errs, &flow.ConfigError{Key: "aggregations", Message: fmt.Sprintf("%s: %v %q in the output (set output_column)", stage, operators.ErrDuplicateColumn, a.out)})
		}
		seen[a.out] = true
	}
	return specs, errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// plan is an aggregation bound to an input schema.
type plan struct {
	keyIdx []int
	aggIdx []int // -1: count of rows
	out    *arrow.Schema
}

func unknownColumn(stage, key string, schema *arrow.Schema, name string) error {
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	return &flow.ParamError{Key: key, Err: &operators.UnknownColumnError{Stage: stage, Column: name, Suggestion: flow.Nearest(name, names), Available: names}}
}

func index(schema *arrow.Schema, name string) int {
	if idx := schema.FieldIndices(name); len(idx) > 0 {
		return idx[0]
	}
	return -1
}

// bind resolves the key and aggregation columns in schema and derives the
// output schema: the keys (dictionary keys decoded to their value type),
// then the aggregations in configured order. aggKey is the parameter named
// in errors about aggregations.
func bind(stage string, by []string, aggs []aggSpec, aggKey string, schema *arrow.Schema) (*plan, error) {
	p := &plan{}
	var fields []arrow.Field
	for _, k := range by {
		i := index(schema, k)
		if i < 0 {
			return nil, unknownColumn(stage, "by", schema, k)
		}
		dt := schema.Field(i).Type
		if err := rowkey.Supported(dt); err != nil {
			return nil, &flow.ParamError{Key: "by", Err: fmt.Errorf("%s: key column %q: %w", stage, k, err)}
		}
		p.keyIdx = append(p.keyIdx, i)
		fields = append(fields, arrow.Field{Name: k, Type: rowkey.OutputType(dt), Nullable: true})
	}
	for _, a := range aggs {
		idx := -1
		var in arrow.DataType
		if a.column != "" {
			idx = index(schema, a.column)
			if idx < 0 {
				return nil, unknownColumn(stage, aggKey, schema, a.column)
			}
			in = schema.Field(idx).Type
		}
		rt, err := resultType(a.op, in)
		if err != nil {
			return nil, &flow.ParamError{Key: aggKey, Err: fmt.Errorf("%s: column %q: %w", stage, a.column, err)}
		}
		p.aggIdx = append(p.aggIdx, idx)
		fields = append(fields, arrow.Field{Name: a.out, Type: rt, Nullable: true})
	}
	p.out = arrow.NewSchema(fields, nil)
	return p, nil
}

// usesColumns is groupby's and reduce's Spec.Uses: the key columns and
// the aggregated columns, whatever the consumers need (the output has no
// other column). A config that does not parse needs everything.
func usesColumns(stage string, by []string) func(cfg flow.Config, needed []string) []string {
	return func(cfg flow.Config, needed []string) []string {
		aggs, errs := parseAggs(stage, cfg)
		if len(errs) > 0 {
			return nil
		}
		out := append([]string{}, by...)
		if by == nil {
			out = append(out, cfg.Strings("by")...)
		}
		for _, a := range aggs {
			if a.column != "" && !contains(out, a.column) {
				out = append(out, a.column)
			}
		}
		return out
	}
}
