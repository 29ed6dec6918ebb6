package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of cmd/conveyor/testdata")

// golden compares got with testdata/name (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/conveyor -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestGraphGolden(t *testing.T) {
	for _, format := range []string{"mermaid", "dot", "text"} {
		r := conveyor(t, "../..", nil, "graph", "examples/report.toml", "--format", format)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", format, r.code, r.stderr)
		}
		golden(t, "graph_report."+format, r.stdout)
	}
	r := conveyor(t, "../..", nil, "graph", "examples/sales.toml", "--format", "mermaid")
	if !strings.Contains(r.stdout, `load -->|"order_id:int64, ts:timestamp, customer:string`) {
		t.Errorf("mermaid edges are not labelled with their schema:\n%s", r.stdout)
	}
}

func TestExplainGoldenAndErrors(t *testing.T) {
	r := conveyor(t, "../..", nil, "explain", "examples/report.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	golden(t, "explain_report.txt", r.stdout)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.csv"), "id,amount,country\n1,2.5,FR\n")
	writeFile(t, filepath.Join(dir, "bad.toml"), `[pipeline]
name = "bad"

[[stages]]
id = "load"
function = "csv.read"
[stages.config]
path = "in.csv"

[[stages]]
id = "big"
function = "filter.apply"
inputs = ["load"]
[stages.config]
expr = "amout > 10"

[[stages]]
id = "agg"
function = "groupby.apply"
inputs = ["load"]
[stages.config]
by = ["id"]
aggregations = [{ column = "country", operation = "sum", output_column = "s" }]

[[stages]]
id = "out"
function = "stdout.write"
inputs = ["big"]
`)
	r = conveyor(t, dir, nil, "explain", "bad.toml")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s", r.code, r.stderr)
	}
	for _, want := range []string{`stage "big": key "config.expr"`, `unknown column "amout" (did you mean "amount"?)`, `stage "agg"`, "country"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("missing %q in:\n%s", want, r.stderr)
		}
	}
	// Every example passes the static checks.
	examples := pipelineExamples(t)
	for _, ex := range examples {
		rel, _ := filepath.Rel("../..", ex)
		if r := conveyor(t, "../..", nil, "explain", rel); r.code != 0 {
			t.Errorf("%s: exit %d\n%s", rel, r.code, r.stderr)
		}
	}
}

// --set overrides a stage parameter on run, and is checked like the file.
func TestSetOverrides(t *testing.T) {
	dir := workdir(t)
	r := conveyor(t, dir, nil, "run", "examples/sales.toml", "--set", "big.value=100000", "--set", "to_json.path=examples/out/none.jsonl")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "examples/out/none.jsonl")); err != nil || len(b) != 0 {
		t.Errorf("output with the override: %q, %v", b, err)
	}
	r = conveyor(t, dir, nil, "validate", "examples/sales.toml", "--set", "big.operator=near")
	if r.code != 2 || !strings.Contains(r.stderr, `stage "big": key "config.operator"`) {
		t.Errorf("bad override: exit %d\n%s", r.code, r.stderr)
	}
	r = conveyor(t, dir, nil, "validate", "examples/sales.toml", "--set", "bigg.value=1")
	if r.code != 2 || !strings.Contains(r.stderr, `no stage "bigg" (did you mean "big"?)`) {
		t.Errorf("unknown stage: exit %d\n%s", r.code, r.stderr)
	}
}

func TestStageDescribeAndCompletion(t *testing.T) {
	r := conveyor(t, "../..", nil, "stage", "describe", "filter.apply")
	var spec struct {
		Name   string `json:"name"`
		Params []struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &spec) != nil || spec.Name != "filter.apply" || len(spec.Params) == 0 {
		t.Fatalf("exit %d: %s\n%s", r.code, r.stdout, r.stderr)
	}
	r = conveyor(t, "../..", nil, "__complete", "info", "window.")
	if !strings.Contains(r.stdout, "window.apply\t") {
		t.Errorf("completion of stage names:\n%s", r.stdout)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if r := conveyor(t, "../..", nil, "completion", shell); r.code != 0 || !strings.Contains(r.stdout, "conveyor") {
			t.Errorf("completion %s: exit %d", shell, r.code)
		}
	}
}

// docs/stages.md is what `conveyor docs` generates from this build's
// registry.
func TestStageReferenceIsCurrent(t *testing.T) {
	r := conveyor(t, "../..", nil, "docs")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	committed, err := os.ReadFile("../../docs/stages.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != r.stdout {
		t.Error("docs/stages.md is stale: run go run ./cmd/conveyor docs --out docs/stages.md")
	}
	for _, want := range []string{"### csv.read", "### window.apply", "### kafka.consume", "| `path` |"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
}

func TestInfoGolden(t *testing.T) {
	for _, name := range []string{"csv.read", "window.apply", "kafka.consume"} {
		r := conveyor(t, "../..", nil, "info", name)
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", name, r.code, r.stderr)
		}
		golden(t, "info_"+name+".txt", r.stdout)
	}
}

// The static checks catch each kind of type error before any data moves,
// naming the stage and the column.
func TestStaticTypeErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.csv"), "id,amount,country,ts\n1,2.5,FR,2024-05-01T10:00:00Z\n")
	head := `[[stages]]
id = "load"
function = "csv.read"
[stages.config]
path = "in.csv"
`
	sink := func(from string) string {
		return "\n[[stages]]\nid = \"out\"\nfunction = \"discard.write\"\ninputs = [\"" + from + "\"]\n"
	}
	cases := []struct {
		name, stage, want string
	}{
		{"filter on a missing column", `[[stages]]
id = "f"
function = "filter.apply"
inputs = ["load"]
[stages.config]
expr = "amout > 1"
`, `unknown column "amout"`},
		{"comparison of a string with a number", `[[stages]]
id = "f"
function = "filter.apply"
inputs = ["load"]
[stages.config]
expr = "country > 3"
`, "country"},
		{"sum over a string", `[[stages]]
id = "f"
function = "groupby.apply"
inputs = ["load"]
[stages.config]
by = ["id"]
aggregations = [{ column = "country", operation = "sum", output_column = "s" }]
`, "country"},
		{"group by a missing column", `[[stages]]
id = "f"
function = "groupby.apply"
inputs = ["load"]
[stages.config]
by = ["region"]
aggregations = [{ operation = "count", output_column = "n" }]
`, "region"},
		{"select of a missing column", `[[stages]]
id = "f"
function = "select.apply"
inputs = ["load"]
[stages.config]
columns = ["id", "amt"]
`, "amt"},
		{"map over a missing column", `[[stages]]
id = "f"
function = "map.apply"
inputs = ["load"]
[stages.config.columns]
double = "amount * qty"
`, "qty"},
		{"window on a missing time column", `[[stages]]
id = "f"
function = "window.apply"
inputs = ["load"]
[stages.config]
type = "tumbling"
size = "1m"
time_column = "time"
aggregations = [{ operation = "count", output_column = "n" }]
`, "time"},
	}
	for _, c := range cases {
		writeFile(t, filepath.Join(dir, "p.toml"), head+"\n"+c.stage+sink("f"))
		for _, cmd := range []string{"validate", "explain"} {
			r := conveyor(t, dir, nil, cmd, "p.toml")
			if r.code != 2 || !strings.Contains(r.stderr, `stage "f"`) || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%s (%s): exit %d\n%s", c.name, cmd, r.code, r.stderr)
			}
		}
	}
}
