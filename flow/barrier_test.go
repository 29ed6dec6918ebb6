package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ackLog records, in order, what happened: "write:<sink>:<n>" for rows
// written, "ack:<k>" when barrier k was fully acknowledged.
type ackLog struct {
	mu     sync.Mutex
	events []string
}

func (l *ackLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *ackLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// barrierSource emits batches of one row each (values 0..n-1), with a
// barrier after each.
type barrierSource struct {
	n   int
	log *ackLog
}

func (s barrierSource) Run(ctx context.Context, st *Stage) error {
	for i := range s.n {
		b := array.NewInt64Builder(st.Alloc)
		b.Append(int64(i))
		arr := b.NewArray()
		b.Release()
		rec := array.NewRecordBatch(nSchema, []arrow.Array{arr}, 1)
		arr.Release()
		if err := st.Emit(ctx, rec); err != nil {
			return err
		}
		k := i
		if err := st.EmitBarrier(ctx, func() { s.log.add("ack:%d", k) }); err != nil {
			return err
		}
	}
	return nil
}

// logSink logs every write; durable makes it acknowledge barriers at once;
// failAt makes it fail on that value.
type logSink struct {
	id      string
	log     *ackLog
	failAt  int64
	durable bool
}

func (s *logSink) Write(_ context.Context, _ *Stage, b arrow.RecordBatch) error {
	v := b.Column(0).(*array.Int64).Value(0)
	if v == s.failAt {
		return errors.New("disk full")
	}
	s.log.add("write:%s:%d", s.id, v)
	return nil
}
func (s *logSink) Close(context.Context, *Stage) error { s.log.add("close:%s", s.id); return nil }
func (s *logSink) Abort()                              {}

type durableSink struct{ *logSink }

func (d durableSink) Durable(context.Context, *Stage) error { return nil }

// sumOp holds every row until its Flush (a stateful transform).
type sumOp struct{ sum int64 }

func (o *sumOp) Transform(_ context.Context, _ *Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	o.sum += in.Column(0).(*array.Int64).Value(0)
	return nil, nil
}

func (o *sumOp) Flush(ctx context.Context, st *Stage) error {
	b := array.NewInt64Builder(st.Alloc)
	b.Append(o.sum)
	arr := b.NewArray()
	b.Release()
	rec := array.NewRecordBatch(nSchema, []arrow.Array{arr}, 1)
	arr.Release()
	return st.Emit(ctx, rec)
}

func barrierRegistry(log *ackLog, n int) *Registry {
	reg := testRegistry()
	reg.Register(&Spec{Name: "test.bsource", Kind: KindSource, Summary: "rows and barriers",
		New: func(Config, BuildEnv) (any, error) { return barrierSource{n, log}, nil }})
	reg.Register(&Spec{Name: "test.durable", Kind: KindSink, Summary: "writes through",
		Params: []Param{{Name: "fail_at", Type: TypeInt, Default: int64(-1)}},
		New: func(cfg Config, env BuildEnv) (any, error) {
			return durableSink{&logSink{id: env.StageID, log: log, failAt: int64(cfg.Int("fail_at"))}}, nil
		}})
	reg.Register(&Spec{Name: "test.atclose", Kind: KindSink, Summary: "durable at close",
		New: func(cfg Config, env BuildEnv) (any, error) {
			return &logSink{id: env.StageID, log: log, failAt: -1}, nil
		}})
	reg.Register(&Spec{Name: "test.sum", Kind: KindTransform, Summary: "sums until the end",
		New: func(Config, BuildEnv) (any, error) { return &sumOp{}, nil }})
	return reg
}

func runBarriers(t *testing.T, n int, src string) ([]string, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	log := &ackLog{}
	_, done := startPipeline(context.Background(), t, barrierRegistry(log, n), src, Options{Alloc: mem})
	err := <-done
	return log.get(), err
}

func indexOf(events []string, e string) int {
	for i, x := range events {
		if x == e {
			return i
		}
	}
	return -1
}

// Through a stateless transform into a write-through sink, each barrier is
// acknowledged after the row before it was written, before the next row.
func TestBarrierAckedAfterDurableWrite(t *testing.T) {
	ev, err := runBarriers(t, 3, `
[[stages]]
id = "src"
function = "test.bsource"
[[stages]]
id = "dbl"
function = "test.double"
inputs = ["src"]
[[stages]]
id = "out"
function = "test.durable"
inputs = ["dbl"]
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"write:out:0", "ack:0", "write:out:2", "ack:1", "write:out:4", "ack:2", "close:out"}
	if fmt.Sprint(ev) != fmt.Sprint(want) {
		t.Errorf("events %v\nwant   %v", ev, want)
	}
}

// Fanned out to a write-through sink and a sink that is durable only at
// Close, a barrier completes only when both have it; a stateful transform
// on one path holds barriers until its Flush.
func TestBarrierWaitsForEveryPath(t *testing.T) {
	ev, err := runBarriers(t, 2, `
[[stages]]
id = "src"
function = "test.bsource"
[[stages]]
id = "fast"
function = "test.durable"
inputs = ["src"]
[[stages]]
id = "sum"
function = "test.sum"
inputs = ["src"]
[[stages]]
id = "slow"
function = "test.atclose"
inputs = ["sum"]
`)
	if err != nil {
		t.Fatal(err)
	}
	closeSlow := indexOf(ev, "close:slow")
	for _, a := range []string{"ack:0", "ack:1"} {
		if i := indexOf(ev, a); i < 0 || i < closeSlow {
			t.Errorf("%s at %d, before the at-close sink closed (%d): %v", a, i, closeSlow, ev)
		}
	}
	if indexOf(ev, "write:slow:1") < 0 {
		t.Errorf("sum not written: %v", ev)
	}
}

// A sink that fails never acknowledges what it did not write.
func TestBarrierNotAckedWhenSinkFails(t *testing.T) {
	ev, err := runBarriers(t, 3, `
[[stages]]
id = "src"
function = "test.bsource"
[[stages]]
id = "out"
function = "test.durable"
inputs = ["src"]
[stages.config]
fail_at = 1
`)
	if err == nil {
		t.Fatal("the sink's failure was not reported")
	}
	if indexOf(ev, "ack:0") < 0 || indexOf(ev, "ack:1") >= 0 || indexOf(ev, "ack:2") >= 0 {
		t.Errorf("events %v: only barrier 0 may be acknowledged", ev)
	}
}

// mapOp runs MapBatches, passing each batch through (or failing on failAt).
type mapOp struct{ failAt int64 }

func (m mapOp) Run(ctx context.Context, st *Stage) error {
	return st.MapBatches(ctx, func(in arrow.RecordBatch) (arrow.RecordBatch, error) {
		if in.Column(0).(*array.Int64).Value(0) == m.failAt {
			return nil, errors.New("cannot map")
		}
		in.Retain()
		return in, nil
	})
}

// MapBatches passes barriers on in place (each one acknowledged right
// after the row before it is written) and stops at fn's first error.
func TestMapBatchesPassesBarriersInPlace(t *testing.T) {
	register := func(reg *Registry) {
		reg.Register(&Spec{Name: "test.map", Kind: KindTransform, Summary: "MapBatches",
			Params: []Param{{Name: "fail_at", Type: TypeInt, Default: int64(-1)}},
			New:    func(cfg Config, _ BuildEnv) (any, error) { return mapOp{int64(cfg.Int("fail_at"))}, nil }})
	}
	src := func(failAt int) string {
		return fmt.Sprintf(`
[[stages]]
id = "src"
function = "test.bsource"
[[stages]]
id = "m"
function = "test.map"
inputs = ["src"]
[stages.config]
fail_at = %d
[[stages]]
id = "out"
function = "test.durable"
inputs = ["m"]
`, failAt)
	}
	run := func(failAt int) ([]string, error) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		log := &ackLog{}
		reg := barrierRegistry(log, 3)
		register(reg)
		_, done := startPipeline(context.Background(), t, reg, src(failAt), Options{Alloc: mem})
		err := <-done
		return log.get(), err
	}
	ev, err := run(-1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"write:out:0", "ack:0", "write:out:1", "ack:1", "write:out:2", "ack:2", "close:out"}
	if fmt.Sprint(ev) != fmt.Sprint(want) {
		t.Errorf("events %v\nwant   %v", ev, want)
	}
	ev, err = run(1)
	if err == nil || !strings.Contains(err.Error(), "cannot map") {
		t.Fatalf("error %v", err)
	}
	if indexOf(ev, "ack:1") >= 0 || indexOf(ev, "ack:2") >= 0 {
		t.Errorf("events %v: barriers after the failure acknowledged", ev)
	}
}
