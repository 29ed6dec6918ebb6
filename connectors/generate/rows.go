package generate

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/expr"
)

// The base columns the expressions of mode rows are evaluated over.
const (
	colSeq  = "seq"
	colTS   = "ts"
	colRand = "rand"
)

var baseSchema = arrow.NewSchema([]arrow.Field{
	{Name: colSeq, Type: arrow.PrimitiveTypes.Int64},
	{Name: colTS, Type: tsType},
	{Name: colRand, Type: arrow.PrimitiveTypes.Float64},
}, nil)

// rowsProducer is mode = "rows": each batch is a base batch of the base
// columns the expressions use, over which every emitted column's
// expression is evaluated once (vectorized).
type rowsProducer struct {
	full, out *arrow.Schema
	names     []string        // emitted columns (the projection)
	progs     []*expr.Program // nil entries: a base column passed as is
	base      *arrow.Schema   // the base columns built
	seed      uint64
	clk       eventClock
}

func newRows(cfg flow.Config, env flow.BuildEnv, seed uint64, interval time.Duration) (*rowsProducer, error) {
	p := &rowsProducer{seed: seed, clk: newEventClock(interval)}
	var opts []expr.Option
	if clk := env.Clock; clk != nil {
		opts = append(opts, expr.WithNow(clk.Now))
	}
	var fields []arrow.Field
	var progs []*expr.Program
	table := cfg.Table("columns")
	for _, name := range cfg.SortedKeys("columns") {
		key := "columns." + name
		src, ok := table[name].(string)
		if !ok {
			return nil, &flow.ParamError{Key: key, Err: fmt.Errorf("generate: %s must be an expression (a string), got %T", key, table[name])}
		}
		prog, err := expr.Compile(src, baseSchema, opts...)
		if errors.Is(err, expr.ErrUnknownColumn) {
			return nil, &flow.ParamError{Key: key, Err: fmt.Errorf("generate: %w\nthe columns an expression of generate can read are seq, ts and rand", err)}
		}
		if err != nil {
			return nil, &flow.ParamError{Key: key, Err: fmt.Errorf("generate: %w", err)}
		}
		fields = append(fields, arrow.Field{Name: name, Type: prog.Type(), Nullable: true})
		progs = append(progs, prog)
	}
	if len(fields) == 0 {
		// No columns: the row number and the event time.
		fields = baseSchema.Fields()[:2]
		progs = []*expr.Program{nil, nil}
	}
	p.full = arrow.NewSchema(fields, nil)

	// The projection: only the columns the pipeline reads (at least one).
	var out []arrow.Field
	for i, f := range fields {
		if env.Columns == nil || slices.Contains(env.Columns, f.Name) {
			out = append(out, f)
			p.names = append(p.names, f.Name)
			p.progs = append(p.progs, progs[i])
		}
	}
	if len(out) == 0 {
		out, p.names, p.progs = fields[:1], []string{fields[0].Name}, progs[:1]
	}
	p.out = arrow.NewSchema(out, nil)

	// The base columns to build: seq always (it carries the row count),
	// ts and rand when an emitted expression reads them.
	used := map[string]bool{colSeq: true}
	for i, prog := range p.progs {
		if prog == nil {
			used[p.names[i]] = true
			continue
		}
		for _, c := range prog.Columns() {
			used[c] = true
		}
	}
	var base []arrow.Field
	for _, f := range baseSchema.Fields() {
		if used[f.Name] {
			base = append(base, f)
		}
	}
	p.base = arrow.NewSchema(base, nil)
	return p, nil
}

func (p *rowsProducer) setStart(us int64) { p.clk.start = us }

func (p *rowsProducer) eventTime(e int64) int64 { return p.clk.at(e) }

// produce builds the base batch of rows [from, from+n) and evaluates the
// expressions over it.
func (p *rowsProducer) produce(mem memory.Allocator, from, n int64) (arrow.RecordBatch, error) {
	rows := int(n)
	cols := make([]arrow.Array, 0, p.base.NumFields())
	for _, f := range p.base.Fields() {
		buf := newBuf(mem, rows*8)
		switch f.Name {
		case colSeq:
			v := arrow.Int64Traits.CastFromBytes(buf.Bytes())[:rows]
			for i := range v {
				v[i] = from + int64(i)
			}
		case colTS:
			v := arrow.Int64Traits.CastFromBytes(buf.Bytes())[:rows]
			for i := range v {
				v[i] = p.clk.at(from + int64(i))
			}
		case colRand:
			v := arrow.Float64Traits.CastFromBytes(buf.Bytes())[:rows]
			for i := range v {
				v[i] = unitFloat(mix(p.seed, uint64(from+int64(i))))
			}
		}
		cols = append(cols, fixedArray(f.Type, rows, nil, buf))
	}
	base := array.NewRecordBatch(p.base, cols, n)
	for _, c := range cols {
		c.Release()
	}
	defer base.Release()
	out := make([]arrow.Array, len(p.progs))
	for i, prog := range p.progs {
		if prog == nil {
			a := base.Column(p.base.FieldIndices(p.names[i])[0])
			a.Retain()
			out[i] = a
			continue
		}
		a, err := prog.Eval(mem, base)
		if err != nil {
			for _, o := range out[:i] {
				o.Release()
			}
			return nil, fmt.Errorf("generate: columns.%s: %w", p.names[i], err)
		}
		out[i] = a
	}
	b := array.NewRecordBatch(p.out, out, n)
	for _, a := range out {
		a.Release()
	}
	return b, nil
}
