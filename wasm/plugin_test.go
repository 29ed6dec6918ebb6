package wasm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/wasm"
	"github.com/conveyor-etl/conveyor/wasm/guest"
)

func TestInfoAndSpecs(t *testing.T) {
	need(t)
	if wasm.ABIVersion != guest.ABIVersion {
		t.Fatalf("host ABI %d, guest SDK ABI %d", wasm.ABIVersion, guest.ABIVersion)
	}
	info := env.rowtools.Info()
	if info.Name != "rowtools" || info.Version != "1.0.0" || info.APIVersion != wasm.ABIVersion || info.Path != env.rowtoolsWasm {
		t.Fatalf("info: %+v", info)
	}
	var names []string
	for _, s := range info.Stages {
		names = append(names, s.Kind+" "+s.Name)
	}
	if got := strings.Join(names, ", "); got != "transform rowtools.at_least, transform rowtools.count, transform rowtools.multiply, transform rowtools.passthrough" {
		t.Fatalf("stages: %s", got)
	}
	reg := flow.NewRegistry()
	for _, p := range []*wasm.Plugin{env.rowtools, env.sandbox} {
		for _, s := range p.Specs() {
			reg.Register(s) // panics on an incomplete spec
			if s.Summary == "" || s.Description == "" || s.Kind == 0 {
				t.Errorf("%s: incomplete metadata", s.Name)
			}
			for _, prm := range s.Params {
				if prm.Doc == "" {
					t.Errorf("%s: parameter %s has no doc", s.Name, prm.Name)
				}
			}
		}
	}
	mul, ok := reg.Lookup("rowtools.multiply")
	if !ok || mul.Param("left") == nil || !mul.Param("left").Required || len(mul.Examples) != 1 ||
		!strings.Contains(mul.Description, "Provided by the WASM plugin rowtools 1.0.0") {
		t.Fatalf("multiply spec: %+v", mul)
	}
	if strict := specOf(t, env.sandbox, "sandbox.strict"); strict.Param("limit").Default != float64(2) {
		t.Errorf("default: %#v", strict.Param("limit").Default)
	}
}

// The examples a guest declares run like a built-in stage's.
func TestExamples(t *testing.T) {
	need(t)
	for _, s := range env.rowtools.Specs() {
		t.Run(s.Name, func(t *testing.T) { spectest.RunAll(t, s) })
	}
}

// orders builds rows that exercise the edge cases: nulls, negative
// numbers, an int64 overflow, floats.
func orders(n int, float bool) string {
	var b strings.Builder
	for i := range n {
		qty := fmt.Sprint(i%7 - 2)
		if i%11 == 0 {
			qty = "null"
		}
		price := fmt.Sprint(i * 13 % 250)
		if float {
			price = fmt.Sprintf("%d.25", i*13%250)
		}
		if i == 5 && !float {
			price = "4611686018427387904" // 2^62 × 3 overflows
		}
		if i%17 == 0 {
			price = "null"
		}
		fmt.Fprintf(&b, "{\"id\":%d,\"price\":%s,\"qty\":%s}\n", i, price, qty)
	}
	return b.String()
}

// A WASM transform gives the same rows as the built-in stage it mirrors.
func TestEqualsBuiltin(t *testing.T) {
	need(t)
	cases := []struct {
		name             string
		builtin          *flow.Spec
		builtinCfg       map[string]any
		plugin           string
		pluginCfg        map[string]any
		input            []string
		wantSomeRowsGone bool
	}{
		{"multiply ints", operators.MapSpec(), map[string]any{"expression": "price * qty", "output_column": "total"},
			"rowtools.multiply", map[string]any{"left": "price", "right": "qty", "output_column": "total"},
			[]string{orders(3000, false), orders(100, false)}, false},
		{"multiply floats", operators.MapSpec(), map[string]any{"expression": "price * qty", "output_column": "total"},
			"rowtools.multiply", map[string]any{"left": "price", "right": "qty", "output_column": "total"},
			[]string{orders(2000, true)}, false},
		{"filter", operators.FilterSpec(), map[string]any{"column": "price", "operator": ">=", "value": int64(120)},
			"rowtools.at_least", map[string]any{"column": "price", "value": int64(120)},
			[]string{orders(3000, false), orders(40, false)}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, _, err := run(t, c.builtin, c.builtinCfg, "", c.input...)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := run(t, specOf(t, env.rowtools, c.plugin), c.pluginCfg, "", c.input...)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("plugin and built-in differ:\n%.600s\n---\n%.600s", got, want)
			}
			inRows := strings.Count(strings.Join(c.input, ""), "\n")
			if outRows := strings.Count(got, "\n"); (outRows < inRows) != c.wantSomeRowsGone || outRows == 0 {
				t.Fatalf("%d rows in, %d out", inRows, outRows)
			}
		})
	}
	// The edge cases are there: an overflow and nulls give null products.
	got, _, err := run(t, specOf(t, env.rowtools, "rowtools.multiply"),
		map[string]any{"left": "price", "right": "qty", "output_column": "total"}, "", orders(12, false))
	if err != nil || !strings.Contains(got, "{\"id\":5,\"price\":4611686018427387904,\"qty\":3,\"total\":null}") {
		t.Fatalf("overflow row: %v\n%s", err, got)
	}
}

// A stateful stage keeps its instance across batches and emits at Flush.
func TestStatefulStage(t *testing.T) {
	need(t)
	out, _, err := run(t, specOf(t, env.rowtools, "rowtools.count"), nil, "", orders(10, false), orders(5, false), oneRow)
	if err != nil || out != "{\"rows\":16}\n" {
		t.Fatalf("%q, %v", out, err)
	}
}

// Instances are pooled: running a stage again does not instantiate the
// module again.
func TestInstancesReused(t *testing.T) {
	need(t)
	pass := specOf(t, env.rowtools, "rowtools.passthrough")
	if _, _, err := run(t, pass, nil, "", oneRow); err != nil {
		t.Fatal(err)
	}
	before := env.rowtools.Instantiated()
	for range 3 {
		if out, _, err := run(t, pass, nil, "", oneRow, oneRow); err != nil || out != oneRow+oneRow {
			t.Fatalf("%q, %v", out, err)
		}
	}
	if n := env.rowtools.Instantiated() - before; n != 0 {
		t.Errorf("%d new instances for sequential runs", n)
	}
}

// A plugin stage runs in a pipeline like a built-in one.
func TestPipeline(t *testing.T) {
	need(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(orders(500, true)), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := flow.NewRegistry()
	jsonfile.Register(reg)
	for _, s := range env.rowtools.Specs() {
		reg.Register(s)
	}
	src := `
[pipeline]
name = "wasm"
[[stages]]
id = "load"
function = "json.read"
[stages.config]
path = "in.jsonl"
format = "jsonl"
[[stages]]
id = "total"
function = "rowtools.multiply"
inputs = ["load"]
[stages.config]
left = "price"
right = "qty"
output_column = "total"
[[stages]]
id = "big"
function = "rowtools.at_least"
inputs = ["total"]
[stages.config]
column = "total"
value = 500
[[stages]]
id = "out"
function = "json.write"
inputs = ["big"]
[stages.config]
path = "out.jsonl"
format = "jsonl"
`
	f, err := flow.Parse(filepath.Join(dir, "p.toml"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem, BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, l := range strings.Split(strings.TrimSpace(orders(500, true)), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatal(err)
		}
		p, pok := row["price"].(float64)
		q, qok := row["qty"].(float64)
		if pok && qok && p*q >= 500 {
			want++
		}
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != want || want == 0 {
		t.Fatalf("%d rows out, want %d", len(lines), want)
	}
	for _, l := range lines {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatal(err)
		}
		if tot, _ := row["total"].(float64); tot < 500 {
			t.Fatalf("row below the threshold: %s", l)
		}
	}
}

func TestOpenRefusals(t *testing.T) {
	need(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		path string
		caps wasm.Capabilities
		want error
		text string
	}{
		{"not wasm", write("x.wasm", []byte("hello world")), wasm.Capabilities{}, wasm.ErrNotPlugin, "not a WebAssembly module"},
		{"empty module", write("empty.wasm", []byte("\x00asm\x01\x00\x00\x00")), wasm.Capabilities{}, wasm.ErrNotPlugin, "missing export conveyor_abi_version"},
		{"missing file", filepath.Join(dir, "none.wasm"), wasm.Capabilities{}, os.ErrNotExist, "none.wasm"},
		{"missing mount", env.rowtoolsWasm, wasm.Capabilities{AllowRead: []string{filepath.Join(dir, "nodir")}}, os.ErrNotExist, "allow_read"},
		{"bad memory", env.rowtoolsWasm, wasm.Capabilities{MemoryLimitMB: 5000}, nil, "memory_limit_mb = 5000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := wasm.Open(c.path, c.caps, testOpts)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.text) ||
				!strings.Contains(err.Error(), c.path) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestCloseFailsRunningStages(t *testing.T) {
	need(t)
	p, err := wasm.Open(env.rowtoolsWasm, wasm.Capabilities{}, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	spec := specOf(t, p, "rowtools.passthrough")
	if out, _, err := run(t, spec, nil, "", oneRow); err != nil || out != oneRow {
		t.Fatalf("%q, %v", out, err)
	}
	p.Close()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	op, err := spec.New(flow.Config{}, flow.BuildEnv{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := batch.FromNDJSON(mem, oneRow, nil)
	defer in.Release()
	if _, err := op.(flow.Transformer).Transform(context.Background(), nil, in); !errors.Is(err, wasm.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestCompilationCacheDir(t *testing.T) {
	need(t)
	entries, err := os.ReadDir(testOpts.CacheDir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache %s: %v, %d entries", testOpts.CacheDir, err, len(entries))
	}
}
