package wasm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// errEnd is a source guest's end of stream.
var errEnd = errors.New("end of stream")

// spec builds the flow spec of one plugin stage.
func (p *Plugin) spec(si *StageInfo) *flow.Spec {
	s := &flow.Spec{
		Name:        si.Name,
		Summary:     si.Summary,
		Description: si.Description,
		Tags:        append(append([]string(nil), si.Tags...), "plugin", "wasm"),
	}
	switch si.Kind {
	case "source":
		s.Kind = flow.KindSource
	case "sink":
		s.Kind = flow.KindSink
	default:
		s.Kind = flow.KindTransform
	}
	if s.Summary == "" {
		s.Summary = fmt.Sprintf("Stage %s of WASM plugin %s.", si.Name, p.info.Name)
	}
	if s.Description == "" {
		s.Description = s.Summary
	}
	s.Description += fmt.Sprintf("\n\nProvided by the WASM plugin %s %s (%s).", p.info.Name, p.info.Version, p.path)
	for _, prm := range si.Params {
		s.Params = append(s.Params, flow.Param{
			Name: prm.Name, Type: flow.ParamType(prm.Type), Required: prm.Required,
			Default: prm.Default, Allowed: prm.Allowed, Min: prm.Min, Max: prm.Max, Doc: prm.Doc,
		})
	}
	for _, ex := range si.Examples {
		s.Examples = append(s.Examples, flow.Example{Title: ex.Title, Config: ex.Config, Input: ex.Input, Output: ex.Output})
	}
	pl := p.pools[si.Name]
	s.Check = func(cfg flow.Config) []*flow.ConfigError {
		req, err := request(si.Name, cfg)
		if err == nil {
			err = pl.validate(context.Background(), req)
		}
		if err != nil {
			return []*flow.ConfigError{{Message: fmt.Sprintf("plugin %s: %v", p.info.Name, err)}}
		}
		return nil
	}
	s.New = func(cfg flow.Config, env flow.BuildEnv) (any, error) {
		req, err := request(si.Name, cfg)
		if err != nil {
			return nil, err
		}
		alloc := env.Alloc
		if alloc == nil {
			alloc = memory.DefaultAllocator
		}
		r := &runner{plugin: p, pool: pl, stage: si.Name, req: req, alloc: alloc,
			pin: si.Stateful || si.Kind != "transform"}
		switch {
		case si.Kind == "source":
			return &sourceOp{r}, nil
		case si.Kind == "sink":
			return &sinkOp{r}, nil
		case si.Stateful:
			return &statefulOp{transformOp{r}}, nil
		}
		return &transformOp{r}, nil
	}
	return s
}

// request encodes a stage's config as the guest reads it: JSON, without
// the host's own keys, durations as Go duration strings.
func request(stage string, cfg flow.Config) ([]byte, error) {
	c := map[string]any{}
	for k, v := range cfg {
		if strings.Contains(k, "\x00") || k == "on_error" {
			continue
		}
		c[k] = jsonValue(v)
	}
	b, err := json.Marshal(map[string]any{"stage": stage, "config": c})
	if err != nil {
		return nil, fmt.Errorf("encoding the config for the plugin: %w", err)
	}
	return b, nil
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Duration:
		return x.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonValue(e)
		}
		return out
	}
	return v
}

// validate runs the guest's config check on an instance of the pool.
func (pl *pool) validate(ctx context.Context, req []byte) error {
	inst, err := pl.get(ctx)
	if err != nil {
		return err
	}
	defer pl.put(inst)
	return inst.validate(ctx, req)
}

// runner is the host side of one running plugin stage.
type runner struct {
	plugin *Plugin
	pool   *pool
	stage  string
	req    []byte
	alloc  memory.Allocator
	// pin keeps one instance (and one guest processor) for the whole run:
	// for stateful transforms, sinks and sources. Otherwise every call
	// takes any instance of the pool, whose processor for this config is
	// created once and kept.
	pin     bool
	pinned  *instance
	handle  int32
	cleanup runtime.Cleanup
}

// acquire returns the instance to call and the guest handle to use.
func (r *runner) acquire(ctx context.Context) (*instance, int32, error) {
	if r.pinned != nil {
		return r.pinned, r.handle, nil
	}
	inst, err := r.pool.get(ctx)
	if err != nil {
		return nil, 0, err
	}
	key := string(r.req)
	h := inst.handles[key]
	if h == 0 || r.pin {
		if h, err = inst.create(ctx, r.req); err != nil {
			r.pool.put(inst)
			return nil, 0, err
		}
		if !r.pin {
			inst.handles[key] = h
		}
	}
	if r.pin {
		r.pinned, r.handle = inst, h
		// A stage abandoned without Flush, Close or Abort (a cancelled
		// run) must not keep its instance alive.
		r.cleanup = runtime.AddCleanup(r, func(i *instance) { i.close(context.Background()) }, inst)
	}
	return inst, h, nil
}

// release gives back an instance after a call: a broken one is discarded
// (a pinned stage then starts afresh on its next call).
func (r *runner) release(inst *instance) {
	if r.pin {
		if inst.broken {
			r.unpin()
			r.pool.put(inst)
		}
		return
	}
	r.pool.put(inst)
}

func (r *runner) unpin() {
	if r.pinned != nil {
		r.cleanup.Stop()
		r.pinned, r.handle = nil, 0
	}
}

// finish destroys a pinned stage's guest processor and returns its
// instance to the pool.
func (r *runner) finish(ctx context.Context) error {
	inst, h := r.pinned, r.handle
	if inst == nil {
		return nil
	}
	r.unpin()
	err := inst.destroy(ctx, h)
	r.pool.put(inst)
	return r.wrap(err)
}

func (r *runner) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("wasm plugin %s: %s: %w", r.plugin.info.Name, r.stage, err)
}

// call sends in (nil for a source) to the guest's process (or flush,
// when flush is set) and returns what it emitted, decoded with the stage's
// allocator (nil: nothing).
func (r *runner) call(ctx context.Context, in arrow.RecordBatch, flush bool) (arrow.RecordBatch, error) {
	inst, h, err := r.acquire(ctx)
	if err != nil {
		return nil, r.wrap(err)
	}
	defer r.release(inst)
	var packed uint64
	if flush {
		packed, err = inst.call(ctx, "flush", inst.fFlush, uint64(uint32(h)))
	} else {
		var n uint64
		if in != nil {
			// The instance's scratch buffer has grown to the batch size
			// already: encoding does not reallocate on every call.
			inst.scratch.Reset()
			w := ipc.NewWriter(&inst.scratch, ipc.WithSchema(in.Schema()), ipc.WithAllocator(r.alloc))
			err = w.Write(in)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, r.wrap(fmt.Errorf("encoding the batch: %w", err))
			}
			n, err = inst.put(ctx, inst.scratch.Bytes())
		}
		if err == nil {
			packed, err = inst.call(ctx, "process", inst.fProcess, uint64(uint32(h)), n)
		}
	}
	if err != nil {
		return nil, r.wrap(err)
	}
	if packed == statusEnd {
		return nil, errEnd
	}
	out, err := inst.result(ctx, "process", packed)
	if err != nil || out == nil {
		return nil, r.wrap(err)
	}
	rec, err := decode(out, r.alloc)
	if err != nil {
		return nil, r.wrap(fmt.Errorf("reading the batch the plugin returned: %w", err))
	}
	return rec, nil
}

// decode reads the one batch of an IPC stream. The batch's buffers are
// copied from b (which may be a view of guest memory) into mem.
func decode(b []byte, mem memory.Allocator) (arrow.RecordBatch, error) {
	rd, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	if !rd.Next() {
		if err := rd.Err(); err != nil {
			return nil, err
		}
		return nil, nil
	}
	rec := rd.RecordBatch()
	rec.Retain()
	return rec, nil
}

// transformOp is a stateless plugin transform.
type transformOp struct{ r *runner }

// Transform implements flow.Transformer.
func (t *transformOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	return t.r.call(ctx, in, false)
}

// statefulOp is a plugin transform that holds rows until its Flush; it
// keeps one instance for its whole run.
type statefulOp struct{ transformOp }

// Flush implements flow.Flusher.
func (t *statefulOp) Flush(ctx context.Context, st *flow.Stage) error {
	out, err := t.r.call(ctx, nil, true)
	if err != nil {
		t.r.finish(ctx)
		return err
	}
	if err := st.Emit(ctx, out); err != nil {
		t.r.finish(ctx)
		return err
	}
	return t.r.finish(ctx)
}

// sinkOp is a plugin sink: Write sends each batch, Close flushes (the
// guest commits) and frees the guest's processor, Abort only frees it.
type sinkOp struct{ r *runner }

// Write implements flow.Sink.
func (s *sinkOp) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	out, err := s.r.call(ctx, b, false)
	if out != nil {
		out.Release()
	}
	return err
}

// Close implements flow.Sink.
func (s *sinkOp) Close(ctx context.Context, st *flow.Stage) error {
	out, err := s.r.call(ctx, nil, true)
	if out != nil {
		out.Release()
	}
	if ferr := s.r.finish(ctx); err == nil {
		err = ferr
	}
	return err
}

// Abort implements flow.Sink.
func (s *sinkOp) Abort() { s.r.finish(context.Background()) }

// sourceOp is a plugin source: the guest is asked for batches until it
// reports the end of its stream (or the pipeline drains).
type sourceOp struct{ r *runner }

// Run implements flow.Operator.
func (s *sourceOp) Run(ctx context.Context, st *flow.Stage) (err error) {
	defer func() {
		if ferr := s.r.finish(context.Background()); err == nil && ferr != nil {
			err = fmt.Errorf("stage %q: %w", st.ID, ferr)
		}
	}()
	for {
		select {
		case <-st.Draining():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		out, err := s.r.call(ctx, nil, false)
		if errors.Is(err, errEnd) {
			break
		}
		if err != nil {
			return fmt.Errorf("stage %q: %w", st.ID, err)
		}
		if err := st.Emit(ctx, out); err != nil {
			return err
		}
	}
	out, err := s.r.call(ctx, nil, true)
	if err != nil {
		return fmt.Errorf("stage %q: %w", st.ID, err)
	}
	return st.Emit(ctx, out)
}
