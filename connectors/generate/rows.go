package generate

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/expr"
)

// baseSchema holds the columns expressions of mode rows can use.
var baseSchema = arrow.NewSchema([]arrow.Field{
	{Name: "seq", Type: arrow.PrimitiveTypes.Int64},
	{Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_us},
	{Name: "rand", Type: arrow.PrimitiveTypes.Float64},
}, nil)

// rowsProducer is mode = "rows".
type rowsProducer struct {
	names    []string
	progs    []*expr.Program
	out      *arrow.Schema
	seed     uint64
	interval int64 // µs
	start    int64 // µs
	useRand  bool
}

func newRows(cfg flow.Config, env flow.BuildEnv, seed uint64, interval time.Duration) (*rowsProducer, error) {
	p := &rowsProducer{seed: seed, interval: interval.Microseconds()}
	if p.interval <= 0 {
		p.interval = 1
	}
	var opts []expr.Option
	if env.Clock != nil {
		opts = append(opts, expr.WithNow(func() time.Time { return env.Clock.Now() }))
	}
	table := cfg.Table("columns")
	var fields []arrow.Field
	for _, name := range cfg.SortedKeys("columns") {
		src, ok := table[name].(string)
		if !ok {
			return nil, &flow.ParamError{Key: "columns." + name, Err: fmt.Errorf("generate: columns.%s must be an expression (a string), got %T", name, table[name])}
		}
		prog, err := expr.Compile(src, baseSchema, opts...)
		if err != nil {
			return nil, &flow.ParamError{Key: "columns." + name, Err: err}
		}
		for _, c := range prog.Columns() {
			if c == "rand" {
				p.useRand = true
			}
		}
		p.names = append(p.names, name)
		p.progs = append(p.progs, prog)
		fields = append(fields, arrow.Field{Name: name, Type: prog.Type(), Nullable: true})
	}
	if len(p.names) == 0 {
		p.out = arrow.NewSchema(baseSchema.Fields()[:2], nil)
		return p, nil
	}
	p.out = arrow.NewSchema(fields, nil)
	return p, nil
}

func (p *rowsProducer) setStart(t time.Time) { p.start = t.UnixMicro() }

func (p *rowsProducer) schema() *arrow.Schema { return p.out }

// produce builds the base columns for rows [from, from+n) and evaluates
// the expressions over them.
func (p *rowsProducer) produce(st *flow.Stage, from, n int64) (arrow.RecordBatch, error) {
	mem := st.Alloc
	seq := make([]int64, n)
	ts := make([]arrow.Timestamp, n)
	for i := range n {
		seq[i] = from + i
		ts[i] = arrow.Timestamp(p.start + (from+i)*p.interval)
	}
	cols := []arrow.Array{int64Array(mem, seq), timestampArray(mem, ts)}
	if p.useRand {
		r := make([]float64, n)
		for i := range n {
			r[i] = unitFloat(mix(p.seed, uint64(from+i)))
		}
		cols = append(cols, float64Array(mem, r))
	} else {
		cols = append(cols, float64Array(mem, make([]float64, n)))
	}
	base := array.NewRecordBatch(baseSchema, cols, n)
	for _, c := range cols {
		c.Release()
	}
	defer base.Release()
	if len(p.progs) == 0 {
		return array.NewRecordBatch(p.out, base.Columns()[:2], n), nil
	}
	out := make([]arrow.Array, len(p.progs))
	for i, prog := range p.progs {
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

// mix is splitmix64 of seed and i: a deterministic, well-spread 64-bit
// value per row.
func mix(seed, i uint64) uint64 {
	z := seed*0x9e3779b97f4a7c15 + i*0xbf58476d1ce4e5b9 + 0x94d049bb133111eb
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// unitFloat maps 64 random bits to [0, 1).
func unitFloat(x uint64) float64 { return float64(x>>11) * (1.0 / (1 << 53)) }

func int64Array(mem memory.Allocator, v []int64) arrow.Array {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(v) * 8)
	copy(arrow.Int64Traits.CastFromBytes(buf.Bytes()), v)
	d := array.NewData(arrow.PrimitiveTypes.Int64, len(v), []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	a := array.MakeFromData(d)
	d.Release()
	return a
}

func float64Array(mem memory.Allocator, v []float64) arrow.Array {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(v) * 8)
	copy(arrow.Float64Traits.CastFromBytes(buf.Bytes()), v)
	d := array.NewData(arrow.PrimitiveTypes.Float64, len(v), []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	a := array.MakeFromData(d)
	d.Release()
	return a
}

func timestampArray(mem memory.Allocator, v []arrow.Timestamp) arrow.Array {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(len(v) * 8)
	copy(arrow.TimestampTraits.CastFromBytes(buf.Bytes()), v)
	d := array.NewData(arrow.FixedWidthTypes.Timestamp_us, len(v), []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	a := array.MakeFromData(d)
	d.Release()
	return a
}
