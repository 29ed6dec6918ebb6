package subpipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/operators/subpipeline"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func registry() *flow.Registry {
	r := flow.NewRegistry()
	csvconn.Register(r)
	jsonfile.Register(r)
	operators.Register(r)
	subpipeline.Register(r)
	return r
}

func TestExamples(t *testing.T) {
	spec, _ := registry().Lookup("pipeline.run")
	spectest.RunAll(t, spec)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs the outer pipeline file in dir and returns the run error.
func run(t *testing.T, dir, src string) error {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, err := flow.Parse(filepath.Join(dir, "outer.toml"), []byte(src))
	if err != nil {
		return err
	}
	g, err := flow.Validate(f, registry())
	if err != nil {
		return err
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem, BaseDir: dir})
	if err != nil {
		return err
	}
	return r.Run(context.Background())
}

func TestFileNestedAndAsSource(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "in.csv"), "id,amount\n1,5\n2,50\n3,500\n")
	// inner.toml filters what it is given, and also keeps its own copy.
	write(t, filepath.Join(dir, "inner.toml"), `
[[stages]]
id = "in"
function = "pipeline.input"

[[stages]]
id = "big"
function = "filter.apply"
inputs = ["in"]
config = { column = "amount", operator = ">", value = 10 }

[[stages]]
id = "copy"
function = "json.write"
inputs = ["big"]
config = { path = "inner_copy.json", format = "jsonl" }

[[stages]]
id = "out"
function = "pipeline.output"
inputs = ["big"]
`)
	// source.toml reads the CSV and runs inner.toml on it: a source.
	write(t, filepath.Join(dir, "source.toml"), `
[[stages]]
id = "load"
function = "csv.read"
config = { path = "in.csv" }

[[stages]]
id = "clean"
function = "pipeline.run"
inputs = ["load"]
config = { file = "`+filepath.Join(dir, "inner.toml")+`" }

[[stages]]
id = "out"
function = "pipeline.output"
inputs = ["clean"]
`)
	err := run(t, dir, `
[[stages]]
id = "src"
function = "pipeline.run"
config = { file = "`+filepath.Join(dir, "source.toml")+`" }

[[stages]]
id = "w"
function = "json.write"
inputs = ["src"]
config = { path = "out.json", format = "jsonl" }
`)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"id\":2,\"amount\":50}\n{\"id\":3,\"amount\":500}\n"
	for _, name := range []string{"out.json", "inner_copy.json"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "self.toml")
	write(t, self, `
[[stages]]
id = "again"
function = "pipeline.run"
config = { file = "`+self+`" }

[[stages]]
id = "w"
function = "json.write"
inputs = ["again"]
config = { path = "x.json" }
`)
	write(t, filepath.Join(dir, "in.csv"), "id,amount\n1,5\n2,oops\n")
	cases := []struct {
		name, src, want string
	}{
		{"a pipeline that runs itself", `
[[stages]]
id = "r"
function = "pipeline.run"
config = { file = "` + self + `" }
[[stages]]
id = "w"
function = "json.write"
inputs = ["r"]
config = { path = "o.json" }
`, "nested more than 8 deep"},
		{"pipeline.input outside pipeline.run", `
[[stages]]
id = "in"
function = "pipeline.input"
[[stages]]
id = "w"
function = "json.write"
inputs = ["in"]
config = { path = "o.json" }
`, "only available inside a pipeline run by pipeline.run"},
		{"inner validation problems name the inner stage", `
[[stages]]
id = "r"
function = "pipeline.run"
config = { inline = "[[stages]]\nid = \"x\"\nfunction = \"csv.raed\"\n" }
[[stages]]
id = "w"
function = "json.write"
inputs = ["r"]
config = { path = "o.json" }
`, `stage "x": key "function": unknown function "csv.raed"`},
		{"an inner failure fails the stage", `
[[stages]]
id = "r"
function = "pipeline.run"
[stages.config.inline]
error_handling = { strategy = "stop" }
stages = [
  { id = "load", function = "csv.read", config = { path = "in.csv", schema = { amount = "int" } } },
  { id = "out", function = "pipeline.output", inputs = ["load"] },
]
[[stages]]
id = "w"
function = "json.write"
inputs = ["r"]
config = { path = "o.json" }
`, `in.csv:3`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := run(t, dir, c.src)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "o.json")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output written: %v", err)
			}
		})
	}
}
