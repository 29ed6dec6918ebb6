package plugins_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugins"
)

// A Go plugin (-buildmode=c-shared) runs in this process beside
// Conveyor's own Go runtime, in a pipeline, in both isolation modes.
func TestGoPluginPipeline(t *testing.T) {
	path := goPlugin(t)
	for _, iso := range []string{plugins.IsolationNone, plugins.IsolationProcess} {
		t.Run(iso, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			dir := t.TempDir()
			writeFile(t, dir, "people.csv", "id,name,city\n1,ada,london\n2,grace,arlington\n3,,paris\n")
			p := open(t, path, iso)
			_, err := runPipeline(t, registry(t, p), dir, `
[pipeline]
name = "go-plugin"

[[stages]]
id = "read"
function = "csv.read"
[stages.config]
path = "people.csv"

[[stages]]
id = "up"
function = "goexample.upper"
inputs = ["read"]
[stages.config]
columns = ["name", "city"]

[[stages]]
id = "out"
function = "json.write"
inputs = ["up"]
[stages.config]
path = "out.jsonl"
format = "jsonl"

[[stages]]
id = "count"
function = "goexample.count"
inputs = ["up"]

[[stages]]
id = "count_out"
function = "json.write"
inputs = ["count"]
[stages.config]
path = "count.jsonl"
format = "jsonl"
`, mem)
			if err != nil {
				t.Fatal(err)
			}
			want := "{\"id\":1,\"name\":\"ADA\",\"city\":\"LONDON\"}\n{\"id\":2,\"name\":\"GRACE\",\"city\":\"ARLINGTON\"}\n{\"id\":3,\"name\":null,\"city\":\"PARIS\"}\n"
			if got := readFile(t, dir+"/out.jsonl"); got != want {
				t.Errorf("out.jsonl:\n%s\nwant:\n%s", got, want)
			}
			if got := readFile(t, dir+"/count.jsonl"); got != "{\"rows\":3}\n" {
				t.Errorf("count.jsonl = %q", got)
			}
		})
	}
}

// A Go panic inside a Go plugin is recovered by the plugin and becomes
// the batch's error: under "stop" the stage fails with the panic's
// message; under "continue" the rows are rejected and the run goes on.
// Either way this process keeps running.
func TestGoPanicBecomesStageError(t *testing.T) {
	p := open(t, goPlugin(t), plugins.IsolationNone)
	spec := specNamed(t, p, "goexample.upper")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	input := func() []arrow.RecordBatch {
		b, err := batch.FromNDJSON(mem, "{\"name\":\"a\"}\n{\"name\":\"b\"}\n", nil)
		if err != nil {
			t.Fatal(err)
		}
		return []arrow.RecordBatch{b}
	}
	cfg := map[string]any{"columns": []any{"name"}, "panic": true}
	env := flow.BuildEnv{Alloc: mem, StageID: "up"}
	_, err := flow.RunIsolated(context.Background(), spec, cfg, env, flow.StrategyStop, input())
	if err == nil || !strings.Contains(err.Error(), `stage "up"`) || !strings.Contains(err.Error(), "panic: assignment to entry in nil map") {
		t.Fatalf("err = %v", err)
	}
	res, err := flow.RunIsolated(context.Background(), spec, cfg, env, flow.StrategyContinue, input())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	if len(res.Output) != 0 || len(res.Ports[flow.PortErrors]) != 1 || res.Ports[flow.PortErrors][0].NumRows() != 2 {
		t.Errorf("output %d batches, errors port %v", len(res.Output), res.Ports)
	}
	if !strings.Contains(batch.ToNDJSON(res.Ports[flow.PortErrors]...), "panic") {
		t.Errorf("rejections do not give the panic: %s", batch.ToNDJSON(res.Ports[flow.PortErrors]...))
	}
	// Not a crash: the plugin still works.
	res2, err := flow.RunIsolated(context.Background(), spec, map[string]any{"columns": []any{"name"}}, env, "", input())
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Release()
	if got := batch.ToNDJSON(res2.Output...); got != "{\"name\":\"A\"}\n{\"name\":\"B\"}\n" {
		t.Errorf("after the panic: %s", got)
	}
	if errors.Is(err, plugins.ErrCrashed) {
		t.Error("a recovered panic is not a crash")
	}
}
