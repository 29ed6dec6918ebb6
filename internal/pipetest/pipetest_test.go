package pipetest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
)

// Every example's tests pass on a checked allocator: the replaced stages
// and the pipeline's own release every batch.
func TestExamplesOnACheckedAllocator(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	files, err := Discover([]string{"../../examples"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sum := RunFiles(&out, files, Options{RunOptions: RunOptions{Alloc: mem}})
	if sum.ExitCode() != ExitPassed || sum.Passed < len(files) || sum.Files != len(files) {
		t.Fatalf("%+v\n%s", sum, out.String())
	}
	if strings.Contains(out.String(), "warning") {
		t.Errorf("report:\n%s", out.String())
	}
}

const pipeline = `[pipeline]
name = "p"

[[stages]]
id = "load"
function = "csv.read"
[stages.config]
path = "missing.csv"

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
total = "amount * 2"

[[stages]]
id = "save"
function = "json.write"
inputs = ["taxed"]
[stages.config]
path = "out.jsonl"
`

// prepare writes the pipeline and a test file in a scratch directory and
// prepares the suite.
func prepare(t *testing.T, test string, files map[string]string) *Prepared {
	t.Helper()
	dir := t.TempDir()
	files["p.toml"] = pipeline
	files["p_test.toml"] = test
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Load(filepath.Join(dir, "p_test.toml"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Prepare()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runAll(t *testing.T, p *Prepared) []*Result {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var out []*Result
	for _, c := range p.Suite.Cases {
		out = append(out, p.Run(c, RunOptions{Alloc: mem}))
	}
	return out
}

// Rows from a CSV file (types inferred from the text), a stubbed
// transform, and a run error the case expects.
func TestInputsFromFilesStubsAndErrors(t *testing.T) {
	p := prepare(t, `
[[case]]
name = "csv"
[case.input.load]
file = "in.csv"
[case.expect.save]
rows = [{ id = 2, amount = 150.5, day = 2024-05-01T00:00:00Z, ok = true, total = 301.0 }]

[[case]]
name = "stub"
[case.input.taxed]
rows = [{ id = 9, total = 1 }]
[case.expect.save]
rows = [{ id = 9, total = 1 }]
[case.expect.big]
rows = []

[[case]]
name = "bad row stops the run"
error = "p_test.toml:25: column \"amount\""
[case.input.load]
schema = { amount = "float" }
ndjson = """
{"id": 1, "amount": 1}
{"id": 2, "amount": "lots"}
"""
[case.expect.save]
rows = []
`, map[string]string{"in.csv": "id,amount,day,ok\n1,5,2024-05-01,false\n2,150.5,2024-05-01,true\n"})
	for _, r := range runAll(t, p) {
		if !r.Passed() {
			t.Errorf("%s: %v %v", r.Case.Name, r.Problems, r.Failures)
		}
	}
}

// What a case says about its rows is checked before anything runs, with
// the line of each problem.
func TestParseProblems(t *testing.T) {
	_, ps := Parse("t_test.toml", []byte(`pipelin = "x.toml"

[[case]]
name = "one"
[case.input.load]
rows = [
  { a = 1 },
  2,
]
batch_size = 0
[case.expect.save]
rows = []
count = 1
colums = ["a"]

[[case]]
[case.expect.save]
ndjson = """
{"a": 1}
{"a":
"""

[[case]]
name = "nothing"
`))
	want := []string{
		`t_test.toml:1: key "pipelin": unknown key (did you mean "pipeline"?)`,
		`t_test.toml:6: case "one": key "input.load.rows": row 2 must be a table`,
		`t_test.toml:10: case "one": key "input.load.batch_size": must be a positive number of rows`,
		`t_test.toml:13: case "one": key "expect.save.count": give either rows or count`,
		`t_test.toml:14: case "one": key "expect.save.colums": unknown key (did you mean "columns"?)`,
		`t_test.toml:16: key "name": every case needs a name`,
		`t_test.toml:18: case "#2": key "expect.save.ndjson": t_test.toml:20: `,
		`t_test.toml:23: case "nothing": key "expect": the case checks nothing`,
	}
	got := ps.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(ps), len(want), got)
	}
}

func TestRowLines(t *testing.T) {
	ix := indexLines([]byte(`[[case]]
name = "a"
text = """
[[case]]
rows = [ { x = 1 } ]
"""
[case.input."a.b"]
rows = [ { x = 1 }, { x = "}" },
  { x = [1, { y = 2 }] },   # comment {
]
[[case.expect.save.rows]]
x = 1
[[case.expect.save.rows]]
x = 2
`))
	if len(ix.cases) != 1 {
		t.Fatalf("%d cases", len(ix.cases))
	}
	for _, c := range []struct {
		path string
		row  int
		line int
	}{{"input.a.b.rows", 0, 8}, {"input.a.b.rows", 1, 8}, {"input.a.b.rows", 2, 9}, {"expect.save.rows", 1, 13}} {
		if got := ix.rowLine(0, c.path, c.row); got != c.line {
			t.Errorf("%s[%d]: line %d, want %d", c.path, c.row, got, c.line)
		}
	}
	if got := ix.caseLine(0, "input.a.b.schema"); got != 7 {
		t.Errorf("fallback line %d, want 7", got)
	}
}

// The comparison's rules: numbers by value (within a tolerance), times as
// instants, nested values as JSON, a missing key is null; the diff names
// cells, missing, unexpected and reordered rows.
func TestCompare(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "at", Type: batch.Timestamp, Nullable: true},
		{Name: "tags", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b, err := batch.FromRows(mem, schema, []map[string]any{
		{"id": int64(1), "x": 0.1 + 0.2, "at": "2024-05-01T10:00:00Z", "tags": `{"a":[1,2]}`},
		{"id": int64(2), "x": 2.0},
		{"id": int64(3), "x": 3.0},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := &collector{}
	got.add(b)
	b.Release()

	expect := func(src string) *Expect {
		t.Helper()
		s, ps := Parse("c_test.toml", []byte("[[case]]\nname = \"c\"\n[case.expect.s]\n"+src))
		if len(ps) > 0 {
			t.Fatal(ps)
		}
		return s.Cases[0].Expects[0]
	}
	pass := []string{
		`rows = [{ id = 1, x = 0.3, at = 2024-05-01T12:00:00+02:00, tags = { a = [1, 2] } }, { id = 2, x = 2 }, { id = 3, x = 3.0 }]`,
		`ndjson = '''
{"id": 1, "x": 0.3, "at": "2024-05-01 10:00:00", "tags": "{\"a\": [1, 2.0]}"}
{"id": 2, "x": 2.0, "at": null, "tags": null}
{"id": 3, "x": 3}
'''`,
		"unordered = true\ncolumns = [\"id\"]\nrows = [{ id = 3 }, { id = 1 }, { id = 2 }]",
		"tolerance = 0.5\ncolumns = [\"id\", \"x\"]\nrows = [{ id = 1, x = 0.7 }, { id = 2, x = 2.4 }, { id = 3, x = 2.6 }]",
		"count = 3",
	}
	for _, src := range pass {
		if msg := compare(expect(src), got); msg != "" {
			t.Errorf("%s\n%s", src, msg)
		}
	}
	fail := map[string][]string{
		`columns = ["id", "x"]
rows = [{ id = 1, x = 0.3 }, { id = 3, x = 3.0 }, { id = 2, x = 2.0 }]`: {`3 rows expected (in order), 3 received, 2 matching`, `row 2 received out of order, as row 3: {"id": 3, "x": 3.0}`},
		`columns = ["id", "x"]
rows = [{ id = 1, x = 0.3 }, { id = 2, x = 2.5 }, { id = 4, x = 3.0 }, { id = 5, x = 5.0 }]`: {
			`row 2 differs: {"id": 2, "x": 2.5}` + "\n    x: expected 2.5, received 2.0",
			`row 3 differs: {"id": 4, "x": 3.0}` + "\n    id: expected 4, received 3",
			`missing row 4: {"id": 5, "x": 5.0}`},
		`unordered = true
columns = ["id"]
rows = [{ id = 1 }, { id = 1 }, { id = 2 }]`: {`3 rows expected (in any order), 3 received, 2 matching`, `missing row 2: {"id": 1}`, `unexpected received row 3: {"id": 3}`},
		`rows = [{ id = 1, y = 1 }]`: {`column "y" is expected but not received (received columns: id, x, at, tags)`, `received columns the expected rows do not have: x, at, tags`},
		`columns = ["id", "at"]
rows = [{ id = 1, at = "2024-05-01T10:00:01Z" }, { id = 2 }, { id = 3, at = "2024-05-01T10:00:00Z" }]`: {`at: expected "2024-05-01T10:00:01Z", received "2024-05-01T10:00:00Z"`, `at: expected "2024-05-01T10:00:00Z", received null`},
		`count = 2`: {`at "s": 2 rows expected, 3 received`, `received row 3: {"id": 3, "x": 3.0, "at": null, "tags": null}`},
	}
	for src, wants := range fail {
		msg := compare(expect(src), got)
		for _, w := range wants {
			if !strings.Contains(msg, w) {
				t.Errorf("%s\nmissing %q in:\n%s", src, w, msg)
			}
		}
	}
}

func TestNormalizeKeepsFloats(t *testing.T) {
	v, err := normalizeTOML(120.0)
	if err != nil || v != json.Number("120.0") {
		t.Errorf("%v %v", v, err)
	}
	d := Data{Rows: []map[string]any{{"a": v, "b": int64(1)}}, Columns: []string{"a", "b"}}
	sc := inputSchema(nil, nil, d)
	if sc.Field(0).Type.ID() != arrow.FLOAT64 || sc.Field(1).Type.ID() != arrow.INT64 {
		t.Errorf("schema %v", sc)
	}
	declared := arrow.NewSchema([]arrow.Field{{Name: "b", Type: arrow.BinaryTypes.String}}, nil)
	if sc := inputSchema(nil, declared, d); sc.Field(0).Name != "b" || sc.Field(0).Type.ID() != arrow.STRING {
		t.Errorf("declared schema first: %v", sc)
	}
}

// A stage that waits on the frozen clock (here http.fetch's retry backoff
// after a refused connection) fails the case after the timeout, saying
// why, instead of hanging.
func TestACaseThatWaitsOnTheClockTimesOut(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("h.toml", `[[stages]]
id = "load"
function = "csv.read"
[stages.config]
path = "x.csv"

[[stages]]
id = "fetch"
function = "http.fetch"
inputs = ["load"]
[stages.config]
url = "http://127.0.0.1:1/{{ a }}"
retries = 3

[[stages]]
id = "out"
function = "discard.write"
inputs = ["fetch"]
`)
	write("h_test.toml", "[[case]]\nname = \"waits\"\n[case.input.load]\nrows = [{ a = 1 }]\n[case.expect.out]\ncount = 1\n")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var out strings.Builder
	sum := RunFiles(&out, []string{filepath.Join(dir, "h_test.toml")}, Options{RunOptions: RunOptions{Alloc: mem, Timeout: 300 * time.Millisecond}})
	if sum.ExitCode() != ExitFailed || !strings.Contains(out.String(), "did not finish within 300ms") {
		t.Errorf("%+v\n%s", sum, out.String())
	}
}
