package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx"
)

// seen is one request a fake provider received.
type seen struct {
	Method, Path string
	Header       http.Header
	Raw          string
	Body         map[string]any
	// Prompt is the content of the last user message.
	Prompt string
}

// fake is an httptest server standing for a provider: it records every
// request and answers with handle (n is the 1-based request number).
type fake struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []seen
	handle func(w http.ResponseWriter, r *http.Request, n int, s seen)
}

func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int, s seen)) *fake {
	f := &fake{handle: handle}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		s := seen{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Raw: string(raw)}
		json.Unmarshal(raw, &s.Body)
		if msgs, ok := s.Body["messages"].([]any); ok {
			for _, m := range msgs {
				if mm, ok := m.(map[string]any); ok && mm["role"] == "user" {
					s.Prompt, _ = mm["content"].(string)
				}
			}
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, s)
		n := len(f.reqs)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		f.handle(w, r, n, s)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

// Answers in each provider's format.

func openAIAnswer(text string, in, out int) string {
	b, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "m",
		"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": text, "refusal": nil}}},
		"usage": map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	})
	return string(b)
}

func anthropicAnswer(text string, in, out int) string {
	b, _ := json.Marshal(map[string]any{
		"id": "msg_1", "type": "message", "role": "assistant", "model": "m",
		"content":     []any{map[string]any{"type": "text", "text": text}},
		"stop_reason": "end_turn", "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": in, "output_tokens": out},
	})
	return string(b)
}

func ollamaAnswer(text string, in, out int) string {
	b, _ := json.Marshal(map[string]any{
		"model": "m", "created_at": "2025-05-01T10:00:00.000Z",
		"message": map[string]any{"role": "assistant", "content": text},
		"done":    true, "done_reason": "stop", "total_duration": 1000, "load_duration": 10,
		"prompt_eval_count": in, "prompt_eval_duration": 5, "eval_count": out, "eval_duration": 5,
	})
	return string(b)
}

func answerFor(provider, text string, in, out int) string {
	switch provider {
	case Anthropic:
		return anthropicAnswer(text, in, out)
	case Ollama:
		return ollamaAnswer(text, in, out)
	}
	return openAIAnswer(text, in, out)
}

// lockedBuffer is a log sink the stage's goroutines may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hooks are set on the operator the spec builds.
type hooks struct {
	onWait      func(httpx.Wait)
	onTokenWait func(time.Duration)
}

// specWith is ai.generate's spec with test hooks set on its operator.
func specWith(h hooks) *flow.Spec {
	s := Spec()
	orig := s.New
	s.New = func(cfg flow.Config, env flow.BuildEnv) (any, error) {
		op, err := orig(cfg, env)
		if err != nil {
			return nil, err
		}
		g := op.(*generate)
		g.opts.OnWait = h.onWait
		g.onTokenWait = h.onTokenWait
		return g, nil
	}
	return s
}

// run is one isolated run of the stage.
type run struct {
	spec     *flow.Spec
	config   string // TOML body of [stages.config]
	input    string // NDJSON; "---\n" separates batches
	clock    clock.Clock
	strategy flow.Strategy
	logs     *lockedBuffer
	dir      string
	ctx      context.Context // nil: Background
}

// result is what a run produced, copied out of Arrow memory.
type result struct {
	out    string // NDJSON of the main output
	schema *arrow.Schema
	errs   []map[string]any // rows of the errors port
	err    error
	logs   string
}

func (r run) do(t *testing.T) result {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	raw := map[string]any{}
	md, err := toml.Decode(r.config, &raw)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	for _, k := range md.Keys() {
		if len(k) == 2 {
			order, _ := raw[k[0]+"\x00order"].([]string)
			raw[k[0]+"\x00order"] = append(order, k[1])
		}
	}
	var in []arrow.RecordBatch
	for _, part := range strings.Split(r.input, "---\n") {
		if part == "" {
			continue
		}
		b, err := batch.FromNDJSON(mem, part, nil)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, b)
	}
	if r.logs == nil {
		r.logs = &lockedBuffer{}
	}
	logger := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	spec := r.spec
	if spec == nil {
		spec = Spec()
	}
	env := flow.BuildEnv{StageID: "ask", Alloc: mem, Clock: r.clock, Logger: logger, BaseDir: r.dir}
	ctx := r.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	res, err := flow.RunIsolated(ctx, spec, raw, env, r.strategy, in)
	out := result{err: err, logs: r.logs.String()}
	if err != nil {
		return out
	}
	defer res.Release()
	out.out = batch.ToNDJSON(res.Output...)
	if len(res.Output) > 0 {
		out.schema = res.Output[0].Schema()
	}
	for _, b := range res.Ports[flow.PortErrors] {
		out.errs = append(out.errs, batch.Rows(b)...)
	}
	return out
}

// errorsText joins the errors port's reasons.
func (r result) errorsText() string {
	var b strings.Builder
	for _, e := range r.errs {
		fmt.Fprintf(&b, "%v | %v | %v\n", e["source"], e["error"], e["row"])
	}
	return b.String()
}

// waitFor polls cond (real time) until it holds or fails the test; for
// waiting on goroutines to reach a state, never for timing assertions.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// advancer returns a function that advances mock by d from one goroutine,
// one Add after the other (concurrent Adds could move the mock's time
// backwards). Hooks call it once a timer is armed.
func advancer(t *testing.T, mock *clock.Mock) func(d time.Duration) {
	ch := make(chan time.Duration, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for d := range ch {
			mock.Add(d)
		}
	}()
	t.Cleanup(func() { close(ch); <-done })
	return func(d time.Duration) { ch <- d }
}
