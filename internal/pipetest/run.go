package pipetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/connectors/stdio"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
	"github.com/conveyor-etl/conveyor/internal/pluginload"
)

// DefaultTimeout bounds one case's run in real time.
const DefaultTimeout = 30 * time.Second

// newRegistry returns the registry test pipelines are validated against:
// every built-in stage, with the stdio stages bound to an empty stdin and
// a discarded stdout (they are replaced anyway), plus the stages of the
// plugins the pipeline file loads ([global] plugins).
func newRegistry(f *flow.File) *flow.Registry {
	reg := catalog.RegistryWith(stdio.Streams{Stdin: strings.NewReader(""), Stdout: io.Discard})
	if f != nil && len(f.Global.Plugins) > 0 {
		if err := registerPlugins(f, reg); err != nil {
			// Validation then reports the plugin's stages as unknown;
			// the load error says why.
			fmt.Fprintln(os.Stderr, "conveyor test:", err)
		}
	}
	return reg
}

// plugins are opened once per process and path, and stay loaded.
var plugins = struct {
	sync.Mutex
	byPath map[string]*pluginload.Loaded
}{byPath: map[string]*pluginload.Loaded{}}

func registerPlugins(f *flow.File, reg *flow.Registry) error {
	entries, err := pluginload.Entries(f)
	if err != nil {
		return err
	}
	plugins.Lock()
	defer plugins.Unlock()
	for _, e := range entries {
		key := e.Path + "\x00" + e.Isolation
		l := plugins.byPath[key]
		if l == nil {
			if l, err = pluginload.Open(e); err != nil {
				return fmt.Errorf("%s: [global] plugins: %w", f.Path, err)
			}
			plugins.byPath[key] = l
		}
		for _, sp := range l.Specs() {
			if _, dup := reg.Lookup(sp.Name); !dup {
				reg.Register(sp)
			}
		}
	}
	return nil
}

// Prepared is a test file whose pipeline loaded and validated, and whose
// cases name only stages that exist.
type Prepared struct {
	Suite *Suite
	src   []byte
}

// Prepare loads the suite's pipeline, validates it, and checks that every
// stage a case names exists and can take the role given (rows for a stage
// that has an output, expectations at a stage or one of its ports). The
// error is Problems (test file) or flow.ConfigErrors (pipeline file).
func (s *Suite) Prepare() (*Prepared, error) {
	src, err := os.ReadFile(s.Pipeline)
	if err != nil {
		return nil, Problems{{File: s.Path, Line: s.lines.topLine("pipeline"), Key: "pipeline",
			Message: fmt.Sprintf("the pipeline under test cannot be read: %v (name it with pipeline = \"FILE\")", err)}}
	}
	f, err := flow.Parse(s.Pipeline, src)
	if err != nil {
		return nil, err
	}
	g, err := flow.Validate(f, newRegistry(f))
	if err != nil {
		return nil, err
	}
	var probs Problems
	ids := make([]string, len(g.Nodes))
	for i, n := range g.Nodes {
		ids[i] = n.ID
	}
	for _, c := range s.Cases {
		add := func(key, format string, args ...any) {
			probs = append(probs, &Problem{File: s.Path, Line: s.lines.caseLine(c.Index, key), Case: c.Name, Key: key,
				Message: fmt.Sprintf(format, args...)})
		}
		noStage := func(key, id string) {
			msg := fmt.Sprintf("the pipeline %s has no stage %q", s.Pipeline, id)
			if near := flow.Nearest(id, ids); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			add(key, "%s", msg)
		}
		for _, stage := range sortedKeys(c.Set) {
			if g.Node(stage) == nil {
				noStage("set."+stage, stage)
			}
		}
		for _, stage := range sortedKeys(c.Inputs) {
			n := g.Node(stage)
			switch {
			case n == nil:
				noStage("input."+stage, stage)
			case n.Spec.Kind == flow.KindSink:
				add("input."+stage, "stage %q is a sink (%s): it has no output to replace with rows; give rows to a source or expect rows at the sink", stage, n.Spec.Name)
			}
		}
		for _, e := range c.Expects {
			ref, n := targetOf(g, e.Target)
			key := "expect." + e.Target
			switch {
			case n == nil:
				noStage(key, ref.Stage)
			case ref.Port != "":
				ports := append([]string{flow.PortErrors}, n.Spec.Ports...)
				if !slices.Contains(ports, ref.Port) {
					add(key, "stage %q has no output port %q (ports: %s)", ref.Stage, ref.Port, strings.Join(ports, ", "))
				}
			}
		}
	}
	// Overrides are checked like the pipeline file, once per case.
	for _, c := range s.Cases {
		if len(c.Set) == 0 || slices.ContainsFunc(sortedKeys(c.Set), func(id string) bool { return g.Node(id) == nil }) {
			continue
		}
		f, err := flow.Parse(s.Pipeline, src)
		if err != nil {
			return nil, err
		}
		applySet(f, c.Set)
		if _, err := flow.Validate(f, newRegistry(f)); err != nil {
			probs = append(probs, overrideProblems(s, c, err)...)
		}
	}
	if len(probs) > 0 {
		sort.SliceStable(probs, func(a, b int) bool { return probs[a].Line < probs[b].Line })
		return nil, probs
	}
	return &Prepared{Suite: s, src: src}, nil
}

// targetOf reads an expectation target: a stage id, or "stage.port". A
// whole string naming a stage wins, as in a pipeline's inputs.
func targetOf(g *flow.Graph, target string) (flow.InputRef, *flow.Node) {
	if n := g.Node(target); n != nil {
		return flow.InputRef{Stage: target}, n
	}
	if i := strings.LastIndex(target, "."); i > 0 {
		ref := flow.InputRef{Stage: target[:i], Port: target[i+1:]}
		return ref, g.Node(ref.Stage)
	}
	return flow.InputRef{Stage: target}, nil
}

// Result is the outcome of one case.
type Result struct {
	Case *Case
	// Problems, when not empty, make the case invalid (an override that
	// does not validate): it did not run.
	Problems Problems
	// Failures explain why the case failed, one block per problem, each
	// possibly several lines. Empty when the case passed.
	Failures []string
	// Logs are the warnings the run logged (dead letters, retries).
	Logs []string
	// Silent lists the sources replaced without rows (they emit nothing).
	Silent []string
	// Received counts the rows collected per expectation target.
	Received map[string]int
	Elapsed  time.Duration
	// Leaked is the number of bytes the run's stages did not release
	// (only measured with a checked allocator).
	Leaked int
}

// Passed reports whether the case ran and met every expectation.
func (r *Result) Passed() bool { return len(r.Problems) == 0 && len(r.Failures) == 0 }

// RunOptions configure a case's run.
type RunOptions struct {
	// Alloc allocates the run's batches (default: a Go allocator). With a
	// *memory.CheckedAllocator the bytes left are reported in Leaked.
	Alloc memory.Allocator
	// Timeout bounds the run in real time (default DefaultTimeout).
	Timeout time.Duration
}

// applySet merges a case's overrides into the stages' configs, as `--set
// STAGE.KEY=VALUE` does: tables are merged key by key, other values
// replaced.
func applySet(f *flow.File, set map[string]map[string]any) {
	for i := range f.Stages {
		d := &f.Stages[i]
		if kv, ok := set[d.ID]; ok {
			if d.Config == nil {
				d.Config = map[string]any{}
			}
			mergeInto(d.Config, kv)
		}
	}
}

func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if have, ok := dst[k].(map[string]any); ok {
				cp := make(map[string]any, len(have))
				for kk, vv := range have {
					cp[kk] = vv
				}
				mergeInto(cp, sub)
				dst[k] = cp
				continue
			}
		}
		dst[k] = v
	}
}

// Run runs one case: the pipeline with the case's overrides, its sources
// and sinks replaced, on a mock clock; then compares what was collected.
func (p *Prepared) Run(c *Case, opts RunOptions) *Result {
	res := &Result{Case: c, Received: map[string]int{}}
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	s := p.Suite

	// 1. The pipeline with the overrides, validated as written: the
	//    overrides are checked like the file, and the sources' declared
	//    schemas read from their validated configs.
	f1, err := flow.Parse(s.Pipeline, p.src)
	if err != nil {
		res.Failures = append(res.Failures, err.Error())
		return res
	}
	applySet(f1, c.Set)
	g1, err := flow.Validate(f1, newRegistry(f1))
	if err != nil {
		res.Problems = overrideProblems(s, c, err)
		return res
	}
	rs := &runState{feeds: map[string]*feed{}, collectors: map[string]*collector{}}
	for stage, in := range c.Inputs {
		n := g1.Node(stage)
		rs.feeds[stage] = &feed{schema: inputSchema(in.Schema, declaredSchemaOf(n), in.Data), data: in.Data, batchSize: in.BatchSize}
	}

	// 2. The test pipeline: a second copy of the file, with sources (and
	//    stubbed stages) replaced by test.rows, sinks by test.collect, and
	//    a collector after each other expected stage or port.
	f2, err := flow.Parse(s.Pipeline, p.src)
	if err != nil {
		res.Failures = append(res.Failures, err.Error())
		return res
	}
	applySet(f2, c.Set)
	used := map[string]bool{}
	for _, d := range f2.Stages {
		used[d.ID] = true
	}
	for i := range f2.Stages {
		d := &f2.Stages[i]
		n := g1.Node(d.ID)
		_, hasInput := c.Inputs[d.ID]
		switch {
		case hasInput, n.Spec.Kind == flow.KindSource, len(n.Inputs) == 0:
			if !hasInput {
				res.Silent = append(res.Silent, d.ID)
			}
			d.Function, d.Inputs = specRows, nil
			d.Config = keepOnError(d.Config, "stage", d.ID)
		case n.Spec.Kind == flow.KindSink:
			d.Function = specCollect
			d.Config = keepOnError(d.Config, "target", d.ID)
			rs.collectors[d.ID] = &collector{}
		}
	}
	for _, e := range c.Expects {
		if _, ok := rs.collectors[e.Target]; ok {
			continue
		}
		rs.collectors[e.Target] = &collector{}
		id := "test:expect:" + e.Target
		for used[id] {
			id += "'"
		}
		used[id] = true
		f2.Stages = append(f2.Stages, flow.StageDecl{ID: id, Function: specCollect, Inputs: []string{e.Target},
			Config: map[string]any{"target": e.Target}, Index: len(f2.Stages)})
	}
	// Nothing is written: dead letters are counted and logged, and
	// retries do not wait (the clock is frozen).
	f2.ErrorHandling.DeadLetter = flow.DeadLetterConfig{}
	f2.ErrorHandling.RetryDelaySeconds = 0
	reg := newRegistry(f2)
	for _, sp := range testSpecs(rs) {
		reg.Register(sp)
	}
	g2, err := flow.Validate(f2, reg)
	if err != nil {
		res.Failures = append(res.Failures, "building the test pipeline: "+err.Error())
		return res
	}

	// 3. Run on a mock clock frozen at the case's now.
	mem := opts.Alloc
	if mem == nil {
		mem = memory.NewGoAllocator()
	}
	mock := clock.NewMock()
	mock.Set(c.Now)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var runErr error
	runner, err := flow.NewRunner(g2, flow.Options{Alloc: mem, Clock: mock, Logger: logger})
	if err != nil {
		runErr = err
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		runErr = runner.Run(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			runErr = fmt.Errorf("the run did not finish within %v: a stage waits for something that does not come in a test "+
				"(the clock is frozen at now, so retry backoffs, lingers, rate limits and timers never fire); stub it with [case.input.STAGE]", timeout)
		}
	}
	if cm, ok := mem.(*memory.CheckedAllocator); ok {
		res.Leaked = cm.CurrentAlloc()
	}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if l != "" {
			res.Logs = append(res.Logs, l)
		}
	}

	// 4. Compare.
	switch {
	case c.WantError && runErr == nil:
		res.Failures = append(res.Failures, fmt.Sprintf("the run succeeded; it should have failed with an error containing %q", c.Error))
	case c.WantError && !strings.Contains(runErr.Error(), c.Error):
		res.Failures = append(res.Failures, fmt.Sprintf("the run failed with an error that does not contain %q:\n  %s", c.Error, indent(runErr.Error())))
	case !c.WantError && runErr != nil:
		res.Failures = append(res.Failures, "the run failed: "+indent(runErr.Error()))
		return res
	}
	if c.DeadLetters != nil && runner != nil {
		if got := runner.DeadLettered(); got != *c.DeadLetters {
			res.Failures = append(res.Failures, fmt.Sprintf("dead letters: %d expected, %d sent (see the log below)", *c.DeadLetters, got))
		}
	}
	for _, e := range c.Expects {
		col := rs.collectors[e.Target]
		res.Received[e.Target] = len(col.rows)
		if runErr != nil && len(col.rows) == 0 && e.HasRows && len(e.Rows) > 0 {
			continue // an expected failure: rows need not arrive
		}
		if msg := compare(e, col); msg != "" {
			res.Failures = append(res.Failures, msg)
		}
	}
	return res
}

// keepOnError is the config of a replacing test stage: key = value, and
// the replaced stage's own on_error, so that its rejected rows follow the
// same strategy.
func keepOnError(cfg map[string]any, key, value string) map[string]any {
	out := map[string]any{key: value}
	if v, ok := cfg["on_error"]; ok {
		out["on_error"] = v
	}
	return out
}

// declaredSchemaOf is declaredSchema for a source; stubbed transforms have
// none.
func declaredSchemaOf(n *flow.Node) *arrow.Schema {
	if n == nil || n.Spec.Kind != flow.KindSource {
		return nil
	}
	return declaredSchema(n)
}

// overrideProblems turns the validation errors of a pipeline with a case's
// overrides into problems of the test file: the pipeline itself validated,
// so the overrides are at fault.
func overrideProblems(s *Suite, c *Case, err error) Problems {
	var ces flow.ConfigErrors
	if !errors.As(err, &ces) {
		return Problems{{File: s.Path, Line: c.Line, Case: c.Name, Key: "set", Message: err.Error()}}
	}
	var out Problems
	for _, ce := range ces {
		key := "set"
		if ce.Stage != "" {
			key += "." + ce.Stage
			if k := strings.TrimPrefix(ce.Key, "config."); k != "" {
				key += "." + k
			}
		}
		out = append(out, &Problem{File: s.Path, Line: s.lines.caseLine(c.Index, key), Case: c.Name, Key: key, Message: ce.Message})
	}
	return out
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
