package flow

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var nSchema = arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)

// genOp emits rows n = 0..rows-1 in batches of `batch` rows; rows whose n
// is a multiple of bad_every (when > 0) are rejected as bad input.
type genOp struct{ rows, batch, badEvery, block int }

func (g genOp) Run(ctx context.Context, st *Stage) error {
	for start := 0; start < g.rows; start += g.batch {
		select {
		case <-st.Draining():
			return nil
		default:
		}
		if g.block > 0 && start >= g.block {
			<-ctx.Done()
			return ctx.Err()
		}
		b := array.NewInt64Builder(st.Alloc)
		for n := start; n < min(start+g.batch, g.rows); n++ {
			if g.badEvery > 0 && n%g.badEvery == 0 {
				if err := st.Reject(ctx, Rejection{Err: fmt.Errorf("bad value %d", n), Source: fmt.Sprintf("gen:%d", n+1), Raw: fmt.Sprint(n)}); err != nil {
					b.Release()
					return err
				}
				continue
			}
			b.Append(int64(n))
		}
		arr := b.NewArray()
		b.Release()
		rec := array.NewRecordBatch(nSchema, []arrow.Array{arr}, int64(arr.Len()))
		arr.Release()
		if err := st.Emit(ctx, rec); err != nil {
			return err
		}
	}
	return nil
}

// doubleOp doubles n; it fails its first fail_times calls, and fails
// every batch containing fail_on.
type doubleOp struct {
	failTimes int
	failOn    int64
	calls     int
}

func (d *doubleOp) Transform(ctx context.Context, st *Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	d.calls++
	if d.calls <= d.failTimes {
		return nil, errors.New("transient failure")
	}
	col := in.Column(0).(*array.Int64)
	b := array.NewInt64Builder(st.Alloc)
	defer b.Release()
	for i := 0; i < col.Len(); i++ {
		if d.failOn >= 0 && col.Value(i) == d.failOn {
			return nil, fmt.Errorf("cannot double %d", d.failOn)
		}
		b.Append(col.Value(i) * 2)
	}
	arr := b.NewArray()
	defer arr.Release()
	return array.NewRecordBatch(nSchema, []arrow.Array{arr}, int64(arr.Len())), nil
}

// collected holds what test.collect sinks received, by stage id.
var collected = struct {
	sync.Mutex
	rows      map[string][]int64
	committed map[string]bool
	aborted   map[string]bool
}{rows: map[string][]int64{}, committed: map[string]bool{}, aborted: map[string]bool{}}

func resetCollected() {
	collected.Lock()
	defer collected.Unlock()
	collected.rows = map[string][]int64{}
	collected.committed = map[string]bool{}
	collected.aborted = map[string]bool{}
}

type collectSink struct{ id, column string }

func (c collectSink) Write(ctx context.Context, st *Stage, b arrow.RecordBatch) error {
	idx := b.Schema().FieldIndices(c.column)
	if len(idx) == 0 {
		return fmt.Errorf("no column %q", c.column)
	}
	collected.Lock()
	defer collected.Unlock()
	switch col := b.Column(idx[0]).(type) {
	case *array.Int64:
		collected.rows[c.id] = append(collected.rows[c.id], col.Int64Values()...)
	default:
		collected.rows[c.id] = append(collected.rows[c.id], make([]int64, col.Len())...)
	}
	return nil
}

func (c collectSink) Close(ctx context.Context, st *Stage) error {
	collected.Lock()
	defer collected.Unlock()
	collected.committed[c.id] = true
	return nil
}

func (c collectSink) Abort() {
	collected.Lock()
	defer collected.Unlock()
	collected.aborted[c.id] = true
}

func testRegistry() *Registry {
	r := NewRegistry()
	r.Register(&Spec{Name: "test.gen", Kind: KindSource, Summary: "numbers", Aliases: []string{"source.test"},
		Params: []Param{
			{Name: "rows", Type: TypeInt, Required: true, Min: F(0)},
			{Name: "batch", Type: TypeInt, Default: int64(10), Min: F(1)},
			{Name: "bad_every", Type: TypeInt, Default: int64(0)},
			{Name: "block_after", Type: TypeInt, Default: int64(0)},
			{Name: "mode", Type: TypeString, Allowed: []string{"fast", "slow"}},
			{Name: "pause", Type: TypeDuration},
		},
		New: func(cfg Config, env BuildEnv) (any, error) {
			return genOp{rows: cfg.Int("rows"), batch: cfg.Int("batch"), badEvery: cfg.Int("bad_every"), block: cfg.Int("block_after")}, nil
		}})
	r.Register(&Spec{Name: "test.double", Kind: KindTransform, Summary: "n*2",
		Params: []Param{{Name: "fail_times", Type: TypeInt, Default: int64(0)}, {Name: "fail_on", Type: TypeInt, Default: int64(-1)}},
		New: func(cfg Config, env BuildEnv) (any, error) {
			return &doubleOp{failTimes: cfg.Int("fail_times"), failOn: int64(cfg.Int("fail_on"))}, nil
		}})
	r.Register(&Spec{Name: "test.union", Kind: KindTransform, Summary: "pass-through of several inputs",
		New: func(cfg Config, env BuildEnv) (any, error) { return passOp{}, nil }})
	r.Register(&Spec{Name: "test.collect", Kind: KindSink, Summary: "collects",
		Params: []Param{{Name: "column", Type: TypeString, Default: "n"}},
		New: func(cfg Config, env BuildEnv) (any, error) {
			return collectSink{id: env.StageID, column: cfg.Str("column")}, nil
		}})
	return r
}

type passOp struct{}

func (passOp) Transform(ctx context.Context, st *Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	in.Retain()
	return in, nil
}
