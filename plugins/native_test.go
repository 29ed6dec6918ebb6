package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/plugins"
)

func TestInfo(t *testing.T) {
	path := cPlugin(t)
	for _, iso := range []string{plugins.IsolationNone, plugins.IsolationProcess} {
		t.Run(iso, func(t *testing.T) {
			info := open(t, path, iso).Info()
			if info.Name != "cexample" || info.Version != "1.0.0" || info.APIVersion != plugins.APIVersion || info.Isolation != iso || info.Path != path {
				t.Errorf("info = %+v", info)
			}
			var names []string
			for _, s := range info.Stages {
				names = append(names, s.Name+":"+s.Kind)
			}
			if got := strings.Join(names, " "); got != "cexample.add_column:transform cexample.sequence:source cexample.sum:sink cexample.allocations:source" {
				t.Errorf("stages: %s", got)
			}
			p := info.Stages[0].Params[1]
			if p.Name != "value" || p.Type != "int" || p.Default != float64(1) || p.Doc == "" {
				t.Errorf("param: %+v", p)
			}
		})
	}
}

// Every plugin stage passes the registry's checks and its examples run
// (through flow.RunIsolated, on a checked allocator).
func TestSpecsAndExamples(t *testing.T) {
	for _, lib := range []struct{ name, path string }{{"c", cPlugin(t)}, {"go", goPlugin(t)}} {
		for _, iso := range []string{plugins.IsolationNone, plugins.IsolationProcess} {
			p := open(t, lib.path, iso)
			for _, spec := range p.Specs() {
				t.Run(lib.name+"/"+iso+"/"+spec.Name, func(t *testing.T) {
					if spec.Summary == "" || spec.Description == "" {
						t.Error("no summary or description")
					}
					for _, prm := range spec.Params {
						if prm.Doc == "" {
							t.Errorf("parameter %s has no doc", prm.Name)
						}
					}
					if spec.Name == "cexample.allocations" {
						return // no example: its output depends on the process's state
					}
					spectest.RunAll(t, spec)
				})
			}
		}
	}
}

// sequence → add_column → json.write and → sum, in process and isolated:
// the outputs are exact, nothing leaks on the host side (checked
// allocator) nor in the C library (its own count of live blocks).
func TestPipeline(t *testing.T) {
	path := cPlugin(t)
	for _, iso := range []string{plugins.IsolationNone, plugins.IsolationProcess} {
		t.Run(iso, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			p := open(t, path, iso)
			dir := t.TempDir()
			r, err := runPipeline(t, registry(t, p), dir, `
[pipeline]
name = "plugins"

[[stages]]
id = "seq"
function = "cexample.sequence"
[stages.config]
count = 5000
batch_rows = 1000

[[stages]]
id = "tag"
function = "cexample.add_column"
inputs = ["seq"]
[stages.config]
name = "tag"
value = 3

[[stages]]
id = "out"
function = "json.write"
inputs = ["tag"]
[stages.config]
path = "out.jsonl"
format = "jsonl"

[[stages]]
id = "sum"
function = "cexample.sum"
inputs = ["tag"]
[stages.config]
column = "n"
path = "sum.txt"
`, mem)
			if err != nil {
				t.Fatal(err)
			}
			var want strings.Builder
			for i := range 5000 {
				fmt.Fprintf(&want, "{\"n\":%d,\"tag\":3}\n", i)
			}
			if got := readFile(t, filepath.Join(dir, "out.jsonl")); got != want.String() {
				t.Errorf("out.jsonl: %d bytes, want %d; starts %q", len(got), want.Len(), got[:min(len(got), 80)])
			}
			if got := readFile(t, filepath.Join(dir, "sum.txt")); got != "12497500\n" {
				t.Errorf("sum.txt = %q", got)
			}
			for _, s := range r.Report() {
				if s.ID == "tag" && (s.RowsIn != 5000 || s.RowsOut != 5000 || s.BatchesOut != 5) {
					t.Errorf("tag: %+v", s)
				}
			}
		})
	}
	// Every block the C library allocated for those runs was freed
	// through the release callbacks and destroy.
	if live := liveBlocks(t, open(t, path, plugins.IsolationNone)); live != 0 {
		t.Errorf("the C plugin holds %d blocks after the runs", live)
	}
}

// liveBlocks runs cexample.allocations in this process.
func liveBlocks(t *testing.T, p *plugins.Plugin) int64 {
	t.Helper()
	var spec *flow.Spec
	for _, s := range p.Specs() {
		if s.Name == "cexample.allocations" {
			spec = s
		}
	}
	var live int64 = -1
	for range 20 { // operators of earlier RunIsolated runs are freed by the GC
		collectGarbage()
		res, err := flow.RunIsolated(context.Background(), spec, nil, flow.BuildEnv{}, "")
		if err != nil {
			t.Fatal(err)
		}
		live = res.Output[0].Column(0).(*array.Int64).Value(0)
		res.Release()
		if live == 0 {
			break
		}
	}
	return live
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A plugin error is the batch's error: under "stop" the run fails naming
// the stage, the plugin file and the plugin's message.
func TestPluginErrorStopsStage(t *testing.T) {
	p := open(t, cPlugin(t), plugins.IsolationNone)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	spec := specNamed(t, p, "cexample.add_column")
	in, err := batch.FromNDJSON(mem, "{\"a\":1}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = flow.RunIsolated(context.Background(), spec, map[string]any{"fail": "no luck"}, flow.BuildEnv{Alloc: mem, StageID: "tag"}, "", []arrow.RecordBatch{in})
	if err == nil || !strings.Contains(err.Error(), `stage "tag"`) || !strings.Contains(err.Error(), p.Path()) ||
		!strings.Contains(err.Error(), "no luck") {
		t.Errorf("err = %v", err)
	}
}

func specNamed(t *testing.T, p *plugins.Plugin, name string) *flow.Spec {
	t.Helper()
	for _, s := range p.Specs() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no stage %s", name)
	return nil
}

// Refusals name the file and say what is wrong.
func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	notLib := filepath.Join(dir, "notalib.so")
	if err := os.WriteFile(notLib, []byte(strings.Repeat("this is text, not a shared library\n", 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The C example with its ELF header saying "AArch64" (e_machine).
	elf, err := os.ReadFile(cPlugin(t))
	if err != nil {
		t.Fatal(err)
	}
	elf[18], elf[19] = 0xb7, 0 // EM_AARCH64
	if runtime.GOARCH == "arm64" {
		elf[18] = 0x3e // EM_X86_64
	}
	otherArch := filepath.Join(dir, "aarch64.so")
	if err := os.WriteFile(otherArch, elf, 0o755); err != nil {
		t.Fatal(err)
	}
	noSym := filepath.Join(dir, "nosym.c")
	if err := os.WriteFile(noSym, []byte("int something(void) { return 1; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		want       error
		text       string
	}{
		{"api version", cPlugin(t, "-DCEXAMPLE_API_VERSION=99"), plugins.ErrAPIVersion, "API version 99, this Conveyor implements version 1"},
		{"missing symbol", cLibrary(t, noSym), plugins.ErrMissingSymbol, "conveyor_plugin_declare"},
		{"not a shared library", notLib, plugins.ErrLoad, "not an ELF shared library"},
		{"another platform", otherArch, plugins.ErrLoad, "but this Conveyor runs on linux/" + runtime.GOARCH},
		{"missing file", filepath.Join(dir, "nothere.so"), plugins.ErrLoad, "no such file"},
		{"bad metadata", cPlugin(t, "-DCEXAMPLE_BAD_METADATA"), plugins.ErrMetadata, "spec_json is not valid"},
	}
	for _, c := range cases {
		for _, iso := range []string{plugins.IsolationNone, plugins.IsolationProcess} {
			t.Run(c.name+"/"+iso, func(t *testing.T) {
				_, err := plugins.Open(c.path, plugins.Options{Isolation: iso})
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.path) || !strings.Contains(err.Error(), c.text) {
					t.Errorf("err = %v; want %v naming %s and saying %q", err, c.want, c.path, c.text)
				}
			})
		}
	}
}
