package operators

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/expr"
)

// This file holds the expression-language forms of filter.apply (expr)
// and map.apply (columns), compiled by operators/expr.

// clockOption makes now() read the pipeline's clock (a mock in tests).
func clockOption(env flow.BuildEnv) []expr.Option {
	if env.Clock == nil {
		return nil
	}
	return []expr.Option{expr.WithNow(func() time.Time { return env.Clock.Now() })}
}

// newExprFilter builds filter.apply from its expr parameter: parsed now
// (a syntax error fails the build, pointing at the column), type-checked
// against each new input schema.
func newExprFilter(cfg flow.Config, env flow.BuildEnv) (any, error) {
	e, err := expr.Parse(cfg.Str("expr"))
	if err != nil {
		return nil, &flow.ParamError{Key: "expr", Err: err}
	}
	opts := clockOption(env)
	bind := func(schema *arrow.Schema) (selector, error) {
		p, err := expr.CompileExpr(e, schema, opts...)
		if err != nil {
			return nil, &flow.ParamError{Key: "expr", Err: err}
		}
		if t := p.Type(); t.ID() != arrow.BOOL && t.ID() != arrow.NULL {
			return nil, &flow.ParamError{Key: "expr", Err: fmt.Errorf("%w: the condition %q is a %s, not true/false (compare it: e.g. %s > 0)", ErrTypeMismatch, e.String(), batch.TypeName(t), e.String())}
		}
		return p.Select, nil
	}
	return &filterOp{bind: bind}, nil
}

// exprColumns returns the columns an expression reads.
func exprColumns(src string) ([]string, error) {
	e, err := expr.Parse(src)
	if err != nil {
		return nil, err
	}
	return e.Columns(), nil
}

// exprMapOp is map.apply's table form: each entry, in file order, adds or
// replaces a column computed from the columns before it (so an entry may
// use one defined above it).
type exprMapOp struct {
	names []string
	exprs []*expr.Expr
	opts  []expr.Option

	schema    *arrow.Schema // input schema the programs were bound to
	outSchema *arrow.Schema
	progs     []*expr.Program
	inputs    []*arrow.Schema // the schema each program reads
	slots     []int           // output column index of each entry
	width     int             // number of output columns
}

func newExprMap(cfg flow.Config, env flow.BuildEnv) (any, error) {
	m := &exprMapOp{opts: clockOption(env)}
	table := cfg.Table("columns")
	for _, name := range cfg.SortedKeys("columns") {
		src, ok := table[name].(string)
		if !ok {
			return nil, &flow.ParamError{Key: "columns", Err: fmt.Errorf("%s: columns.%s must be an expression (a string), got %T", mapName, name, table[name])}
		}
		e, err := expr.Parse(src)
		if err != nil {
			return nil, &flow.ParamError{Key: "columns." + name, Err: err}
		}
		m.names = append(m.names, name)
		m.exprs = append(m.exprs, e)
	}
	if len(m.names) == 0 {
		return nil, &flow.ParamError{Key: "columns", Err: fmt.Errorf("%s: columns is empty", mapName)}
	}
	return m, nil
}

func (m *exprMapOp) rebind(schema *arrow.Schema) error {
	fields := append([]arrow.Field(nil), schema.Fields()...)
	meta := schema.Metadata()
	cur := schema
	m.progs, m.slots, m.inputs = m.progs[:0], m.slots[:0], m.inputs[:0]
	for i, e := range m.exprs {
		p, err := expr.CompileExpr(e, cur, m.opts...)
		if err != nil {
			return &flow.ParamError{Key: "columns." + m.names[i], Err: err}
		}
		f := arrow.Field{Name: m.names[i], Type: p.Type(), Nullable: true}
		slot := len(fields)
		if idx := cur.FieldIndices(m.names[i]); len(idx) > 0 {
			slot = idx[0]
			f.Metadata = fields[slot].Metadata
			fields[slot] = f
		} else {
			fields = append(fields, f)
		}
		m.progs = append(m.progs, p)
		m.inputs = append(m.inputs, cur)
		m.slots = append(m.slots, slot)
		cur = arrow.NewSchema(fields, &meta)
	}
	m.schema, m.outSchema, m.width = schema, cur, len(fields)
	return nil
}

// Transform evaluates the entries in order over in; the input's columns
// are shared, not copied. It borrows in.
func (m *exprMapOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if m.schema == nil || (m.schema != in.Schema() && !m.schema.Equal(in.Schema())) {
		if err := m.rebind(in.Schema()); err != nil {
			return nil, err
		}
	}
	cols := make([]arrow.Array, in.NumCols(), m.width)
	copy(cols, in.Columns())
	var owned []arrow.Array
	defer func() {
		for _, a := range owned {
			a.Release()
		}
	}()
	cur := in
	for i, p := range m.progs {
		arr, err := p.Eval(st.Alloc, cur)
		if err != nil {
			if cur != in {
				cur.Release()
			}
			return nil, fmt.Errorf("%s: columns.%s: %w", mapName, m.names[i], err)
		}
		owned = append(owned, arr)
		if m.slots[i] < len(cols) {
			cols[m.slots[i]] = arr
		} else {
			cols = append(cols, arr)
		}
		// The next entry sees this one's column.
		var sc *arrow.Schema
		if i == len(m.progs)-1 {
			sc = m.outSchema
		} else {
			sc = m.inputs[i+1]
		}
		next := array.NewRecordBatch(sc, cols, in.NumRows())
		if cur != in {
			cur.Release()
		}
		cur = next
	}
	return cur, nil
}
