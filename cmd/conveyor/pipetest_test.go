package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every pipeline in examples/ has a test file beside it, and `conveyor
// test examples/` passes them all without writing anything.
func TestPipelineTestsOfTheExamples(t *testing.T) {
	dir := workdir(t)
	pipelines, _ := filepath.Glob(filepath.Join(dir, "examples", "*.toml"))
	var tested []string
	for _, p := range pipelines {
		if strings.HasSuffix(p, "_test.toml") {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(p), ".toml")
		tested = append(tested, name)
		if _, err := os.Stat(filepath.Join(dir, "examples", name+"_test.toml")); err != nil {
			t.Errorf("examples/%s.toml has no test file examples/%s_test.toml", name, name)
		}
	}
	if len(tested) < 10 {
		t.Fatalf("only %d example pipelines found: %v", len(tested), tested)
	}
	r := conveyor(t, dir, nil, "test", "examples/")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range tested {
		if !strings.Contains(r.stdout, "PASS    examples/"+name+"_test.toml: ") {
			t.Errorf("no passing case of examples/%s_test.toml in:\n%s", name, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "FAIL") || !strings.Contains(r.stdout, "ok: ") {
		t.Errorf("report:\n%s", r.stdout)
	}
	// The real sinks were replaced: nothing was written.
	if entries, err := os.ReadDir(filepath.Join(dir, "examples", "out")); err == nil && len(entries) > 0 {
		t.Errorf("conveyor test wrote to examples/out: %v", entries)
	}
	// A pipeline names its own test file.
	r = conveyor(t, dir, nil, "test", "examples/sales.toml", "--run", "threshold", "-v")
	if r.code != 0 || !strings.Contains(r.stdout, `at "to_json": 1 row received`) || !strings.Contains(r.stdout, "1 skipped") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// testedPipeline reads a file that does not exist and writes one; the
// tests below must do neither.
const testedPipeline = `[pipeline]
name = "orders"

[[stages]]
id = "load"
function = "csv.read"
[stages.config]
path = "no/such/orders.csv"

[[stages]]
id = "big"
function = "filter.apply"
inputs = ["load"]
[stages.config]
expr = "amount >= 100"

[[stages]]
id = "taxed"
function = "map.apply"
inputs = ["big"]
[stages.config.columns]
total = "round(amount * 1.2, 2)"

[[stages]]
id = "save"
function = "json.write"
inputs = ["taxed"]
[stages.config]
path = "out/orders.jsonl"
format = "jsonl"
`

// A failing case exits 1 and shows what differs: the cell, the missing
// row and the unexpected one.
func TestPipelineTestFailureShowsTheDiff(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.toml"), testedPipeline)
	writeFile(t, filepath.Join(dir, "orders_test.toml"), `[[case]]
name = "passes"
[case.input.load]
rows = [{ id = 1, amount = 100.0 }, { id = 2, amount = 5.0 }]
[case.expect.save]
rows = [{ id = 1, amount = 100.0, total = 120.0 }]

[[case]]
name = "fails"
[case.input.load]
rows = [
  { id = 1, amount = 100.0 },
  { id = 2, amount = 200.0 },
  { id = 3, amount = 300.0 },
]
[case.expect.save]
rows = [
  { id = 1, amount = 100.0, total = 120.0 },
  { id = 2, amount = 200.0, total = 250.0 },
  { id = 4, amount = 400.0, total = 480.0 },
]
`)
	r := conveyor(t, dir, nil, "test", "orders_test.toml")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"PASS    orders_test.toml: passes (",
		"FAIL    orders_test.toml: fails (",
		`at "save": 3 rows expected (in order), 3 received, 1 matching`,
		`row 2 differs: {"id": 2, "amount": 200.0, "total": 250.0}`,
		`total: expected 250.0, received 240.0`,
		`missing row 3: {"id": 4, "amount": 400.0, "total": 480.0}`,
		`unexpected received row 3: {"id": 3, "amount": 300.0, "total": 360.0}`,
		"FAIL: 1 passed, 1 failed (1 file,",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("the real sink wrote out/: %v", err)
	}

	// Unordered, a column subset and a tolerance: the same rows pass.
	writeFile(t, filepath.Join(dir, "orders_test.toml"), `[[case]]
name = "any order"
[case.input.load]
rows = [{ id = 1, amount = 100.0 }, { id = 2, amount = 200.0 }]
[case.expect.save]
unordered = true
columns = ["id", "total"]
tolerance = 0.5
rows = [{ id = 2, total = 240.4 }, { id = 1, total = 120 }]
`)
	if r := conveyor(t, dir, nil, "test", "."); r.code != 0 {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// An invalid test file exits 2 and every problem names the file, the line
// and the key.
func TestPipelineTestInvalidFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "orders.toml"), testedPipeline)
	writeFile(t, filepath.Join(dir, "orders_test.toml"), `[[case]]
name = "typos"
[case.input.lod]
rows = [{ id = 1 }]
[case.expect.save]
unorderd = true
rows = []

[[case]]
name = "bad override"
[case.set.big]
exprr = "amount > 1"
[case.expect.big]
count = 0
`)
	r := conveyor(t, dir, nil, "test", "orders_test.toml")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"INVALID orders_test.toml",
		`orders_test.toml:3: case "typos": key "input.lod": the pipeline orders.toml has no stage "lod" (did you mean "load"?)`,
		`orders_test.toml:6: case "typos": key "expect.save.unorderd": unknown key (did you mean "unordered"?)`,
		`orders_test.toml:12: case "bad override": key "set.big.exprr": unknown parameter for filter.apply (did you mean "expr"?)`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	// A TOML syntax error names its line; a missing test file is an error.
	writeFile(t, filepath.Join(dir, "orders_test.toml"), "[[case]]\nname = \"x\nrows = 1\n")
	if r := conveyor(t, dir, nil, "test", "orders_test.toml"); r.code != 2 || !strings.Contains(r.stdout, "orders_test.toml:2: TOML syntax") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := conveyor(t, dir, nil, "test", "nothing.toml"); r.code != 2 {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
