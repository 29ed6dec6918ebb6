// Package subpipeline provides pipeline.run, which runs another pipeline
// as one stage, and the pipeline.input / pipeline.output stages through
// which that pipeline exchanges rows with the stage.
package subpipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/errgroup"

	"github.com/conveyor-etl/conveyor/flow"
)

const (
	runName    = "pipeline.run"
	inputName  = "pipeline.input"
	outputName = "pipeline.output"
	// maxDepth bounds nesting (a pipeline that runs itself fails at build).
	maxDepth = 8
)

// ErrNotNested is returned by pipeline.input and pipeline.output used in a
// pipeline that is not run by pipeline.run.
var ErrNotNested = errors.New("only available inside a pipeline run by pipeline.run")

// Register adds pipeline.run, pipeline.input and pipeline.output to r.
// pipeline.run validates its inner pipeline against r itself, so every
// stage registered in r (before or after) is available inside.
func Register(r *flow.Registry) {
	r.Register(runSpec(r, 0))
	r.Register(InputSpec())
	r.Register(OutputSpec())
}

func runSpec(reg *flow.Registry, depth int) *flow.Spec {
	return &flow.Spec{
		Name:      runName,
		Kind:      flow.KindTransform,
		Aliases:   []string{"transform.pipeline"},
		Tags:      []string{"composition"},
		MinInputs: -1,
		Summary:   "Run another pipeline as one stage.",
		Description: `Runs the pipeline in file (relative to the working directory, like every path) or in
inline (the pipeline's TOML text, or a table with the same structure as a pipeline file) as one
stage of this pipeline. The inner pipeline is validated when this one is, so its problems are
reported before anything runs, with the inner file's lines.

Rows cross the boundary through two stages that exist only inside a pipeline run this way:
every pipeline.input source of the inner pipeline receives the rows of this stage's inputs
(all of them, merged, in arrival order), and the rows that reach the inner pipeline's
pipeline.output sinks are this stage's output. The inner pipeline may also read and write
its own sources and sinks. Without inputs, pipeline.run is a source of what its
pipeline.output sinks receive; without a pipeline.output, it emits nothing; without a
pipeline.input, this stage's input rows are consumed and dropped.

The inner pipeline keeps its own [error_handling] (strategy and dead-letter output) and its
own [global] batch size and channel capacity. A failure inside fails this stage with the
inner stage named. Draining this pipeline drains the inner one; cancelling it cancels the
inner one (its sinks leave no partial output). Watermarks are not forwarded across the
boundary. Nesting is limited to 8 levels (a pipeline that runs itself is an error).`,
		Params: []flow.Param{
			{Name: "file", Type: flow.TypeString, Doc: "Pipeline file to run."},
			{Name: "inline", Type: flow.TypeAny, Doc: "The pipeline itself: TOML text, or a table shaped like a pipeline file ({ stages = [...] })."},
		},
		Check: func(cfg flow.Config) []*flow.ConfigError {
			if cfg.Has("file") == cfg.Has("inline") {
				return []*flow.ConfigError{{Key: "file", Message: "give exactly one of file or inline"}}
			}
			switch cfg["inline"].(type) {
			case nil, string, map[string]any:
			default:
				return []*flow.ConfigError{{Key: "inline", Message: "inline must be TOML text or a table"}}
			}
			return nil
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) { return newRun(reg, depth, cfg, env) },
		Examples: []flow.Example{{
			Title: "Reuse a cleaning pipeline inline",
			Config: `inline = """
[[stages]]
id = "in"
function = "pipeline.input"

[[stages]]
id = "paid"
function = "filter.apply"
inputs = ["in"]
config = { column = "paid", operator = "==", value = true }

[[stages]]
id = "out"
function = "pipeline.output"
inputs = ["paid"]
"""`,
			Input:  "{\"id\":1,\"paid\":true}\n{\"id\":2,\"paid\":false}\n{\"id\":3,\"paid\":true}\n",
			Output: "{\"id\":1,\"paid\":true}\n{\"id\":3,\"paid\":true}\n",
		}},
	}
}

// InputSpec returns pipeline.input's spec.
func InputSpec() *flow.Spec {
	return &flow.Spec{
		Name:    inputName,
		Kind:    flow.KindSource,
		Tags:    []string{"composition"},
		Summary: "Rows given to this pipeline by the pipeline.run stage running it.",
		Description: `Inside a pipeline run by pipeline.run, emits the rows of that stage's inputs. Used
anywhere else, it is an error.`,
		Examples: []flow.Example{{
			Title:  "Inside a pipeline run by pipeline.run: pass the rows through",
			Input:  "{\"id\":1}\n{\"id\":2}\n",
			Output: "{\"id\":1}\n{\"id\":2}\n",
		}},
		New: func(flow.Config, flow.BuildEnv) (any, error) {
			return nil, fmt.Errorf("%s: %w", inputName, ErrNotNested)
		},
	}
}

// OutputSpec returns pipeline.output's spec.
func OutputSpec() *flow.Spec {
	return &flow.Spec{
		Name:    outputName,
		Kind:    flow.KindSink,
		Tags:    []string{"composition"},
		Summary: "Rows handed back to the pipeline.run stage running this pipeline.",
		Description: `Inside a pipeline run by pipeline.run, the rows written here are that stage's
output. Used anywhere else, it is an error.`,
		Examples: []flow.Example{{
			Title:  "Inside a pipeline run by pipeline.run: pass the rows through",
			Input:  "{\"id\":1}\n{\"id\":2}\n",
			Output: "{\"id\":1}\n{\"id\":2}\n",
		}},
		New: func(flow.Config, flow.BuildEnv) (any, error) {
			return nil, fmt.Errorf("%s: %w", outputName, ErrNotNested)
		},
	}
}

// PassThrough is an inline pipeline made of a pipeline.input feeding a
// pipeline.output: pipeline.run configured with it is the identity. The
// examples of pipeline.input and pipeline.output run through it.
const PassThrough = `[[stages]]
id = "in"
function = "pipeline.input"

[[stages]]
id = "out"
function = "pipeline.output"
inputs = ["in"]
`

// run is pipeline.run's operator: a built inner pipeline plus the
// channels bridging it.
type run struct {
	name   string
	runner *flow.Runner
	ins    []chan arrow.RecordBatch // one per pipeline.input
	out    chan arrow.RecordBatch   // written by every pipeline.output
	outs   []*outputOp              // the pipeline.output stages
	done   sync.WaitGroup           // pipeline.output stages still open
}

func newRun(reg *flow.Registry, depth int, cfg flow.Config, env flow.BuildEnv) (any, error) {
	if depth >= maxDepth {
		return nil, fmt.Errorf("%s: pipelines nested more than %d deep (does a pipeline run itself?)", runName, maxDepth)
	}
	var f *flow.File
	var err error
	name := env.StageID + " (inline)"
	switch v := cfg["inline"].(type) {
	case string:
		f, err = flow.Parse(name, []byte(v))
	case map[string]any:
		var b strings.Builder
		if err = toml.NewEncoder(&b).Encode(v); err == nil {
			f, err = flow.Parse(name, []byte(b.String()))
		}
	default:
		name = env.Path(cfg.Str("file"))
		f, err = flow.LoadFile(name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", runName, name, err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		return nil, fmt.Errorf("%s: inner pipeline %s:\n%w", runName, name, err)
	}
	r := &run{name: name, out: make(chan arrow.RecordBatch)}
	for _, n := range g.Nodes {
		switch n.Spec.Name {
		case runName:
			n.Spec = runSpec(reg, depth+1)
		case inputName:
			ch := make(chan arrow.RecordBatch)
			r.ins = append(r.ins, ch)
			spec := *n.Spec
			spec.New = func(flow.Config, flow.BuildEnv) (any, error) { return inputOp{ch}, nil }
			n.Spec = &spec
		case outputName:
			o := &outputOp{r: r}
			r.outs = append(r.outs, o)
			spec := *n.Spec
			spec.New = func(flow.Config, flow.BuildEnv) (any, error) { return o, nil }
			n.Spec = &spec
		}
	}
	// Paths inside resolve like the outer pipeline's (env.BaseDir).
	r.runner, err = flow.NewRunner(g, flow.Options{Alloc: env.Alloc, Clock: env.Clock, Logger: env.Logger.With("pipeline", name), BaseDir: env.BaseDir})
	if err != nil {
		return nil, fmt.Errorf("%s: inner pipeline %s:\n%w", runName, name, err)
	}
	return r, nil
}

// Run runs the inner pipeline, feeding it this stage's inputs and emitting
// what its pipeline.output stages receive.
func (r *run) Run(ctx context.Context, st *flow.Stage) error {
	g, gctx := errgroup.WithContext(ctx)
	r.done.Add(len(r.outs))
	g.Go(func() error {
		err := r.runner.Run(gctx)
		for _, o := range r.outs {
			o.closed() // in case the runtime did not get to close it
		}
		if err != nil {
			return fmt.Errorf("%s: inner pipeline %s: %w", runName, r.name, err)
		}
		return nil
	})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-st.Draining():
			r.runner.Drain()
		case <-stop:
		}
	}()
	g.Go(func() error { return r.feed(gctx, st) })
	closed := make(chan struct{})
	go func() {
		r.done.Wait()
		close(closed)
	}()
	g.Go(func() error {
		for {
			select {
			case b := <-r.out:
				if err := st.Emit(gctx, b); err != nil {
					return err
				}
			case <-closed:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	return g.Wait()
}

// feed copies every input batch to every pipeline.input, then closes them.
func (r *run) feed(ctx context.Context, st *flow.Stage) error {
	defer func() {
		for _, ch := range r.ins {
			close(ch)
		}
	}()
	for {
		msg, ok, err := st.Recv(ctx)
		if err != nil || !ok {
			return err
		}
		if msg.Kind != flow.MsgData || msg.Batch == nil {
			continue
		}
		for _, ch := range r.ins {
			msg.Batch.Retain()
			select {
			case ch <- msg.Batch:
			case <-ctx.Done():
				msg.Batch.Release()
				msg.Batch.Release()
				return ctx.Err()
			}
		}
		msg.Batch.Release()
	}
}

type inputOp struct{ ch chan arrow.RecordBatch }

func (in inputOp) Run(ctx context.Context, st *flow.Stage) error {
	for {
		select {
		case b, ok := <-in.ch:
			if !ok {
				return nil
			}
			if err := st.Emit(ctx, b); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type outputOp struct {
	r    *run
	once sync.Once
}

func (o *outputOp) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	b.Retain()
	select {
	case o.r.out <- b:
		return nil
	case <-ctx.Done():
		b.Release()
		return ctx.Err()
	}
}

func (o *outputOp) closed() { o.once.Do(o.r.done.Done) }

func (o *outputOp) Close(context.Context, *flow.Stage) error {
	o.closed()
	return nil
}

func (o *outputOp) Abort() { o.closed() }
