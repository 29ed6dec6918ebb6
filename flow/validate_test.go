package flow

import (
	"errors"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("p.toml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

func TestValidateReportsEveryProblemWithLocation(t *testing.T) {
	src := `[pipeline]
name = "t"

[[stages]]
id = "load"
function = "test.gen"
[stages.config]
rowz = 10
batch = "ten"

[[stages]]
id = "load"
function = "test.gen"
[stages.config]
rows = 1

[[stages]]
id = "dbl"
function = "test.dubble"
inputs = ["lod"]

[[stages]]
id = "out"
function = "test.collect"
inputs = []
[stages.config]
column = 5
`
	_, err := Validate(mustParse(t, src), testRegistry())
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("want ConfigErrors, got %v", err)
	}
	if !errors.Is(err, ErrInvalidPipeline) {
		t.Fatal("error does not wrap ErrInvalidPipeline")
	}
	text := err.Error()
	for _, want := range []string{
		`p.toml:8: stage "load": key "config.rowz": unknown parameter for test.gen (did you mean "rows"?)`,
		`p.toml:9: stage "load": key "config.batch": must be an integer, got the string "ten"`,
		`stage "load": key "config.rows": required parameter of test.gen is missing`,
		`p.toml:12: stage "load": key "id": duplicate stage id (first used on line 4)`,
		`p.toml:19: stage "dbl": key "function": unknown function "test.dubble" (did you mean "test.double"?)`,
		`p.toml:27: stage "out": key "config.column": must be a string, got an integer`,
		`p.toml:20: stage "dbl": key "inputs": input "lod" names no stage (did you mean "load"?)`,
		`stage "out": key "inputs": test.collect is a sink and needs at least 1 input(s)`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}

func TestValidateInputsAndCycles(t *testing.T) {
	src := `
[[stages]]
id = "a"
function = "test.double"
inputs = ["c"]
[[stages]]
id = "b"
function = "test.double"
inputs = ["a"]
[[stages]]
id = "c"
function = "test.double"
inputs = ["b"]
[[stages]]
id = "g"
function = "test.gen"
inputs = ["a"]
[stages.config]
rows = 1
mode = "fsat"
[[stages]]
id = "x"
function = "test.collect"
inputs = ["g.late", "gg"]
`
	_, err := Validate(mustParse(t, src), testRegistry())
	if err == nil {
		t.Fatal("want errors")
	}
	text := err.Error()
	for _, want := range []string{
		"the stages form a cycle: a -> b -> c -> a",
		`stage "g": key "inputs": test.gen is a source and takes no inputs`,
		`key "config.mode": "fsat" is not allowed (did you mean "fast"? allowed: fast, slow)`,
		`stage "g" has no output port "late" (ports: errors)`,
		`input "gg" names no stage (did you mean "g"?)`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}

func TestParseVariablesAndLegacyType(t *testing.T) {
	t.Setenv("CONVEYOR_TEST_ROWS", "42")
	src := `
[global]
batch_size = 100
[global.variables]
col = "n"
[[stages]]
id = "g"
type = "source.test"
[stages.config]
rows = 3
pause = "${CONVEYOR_TEST_PAUSE:-250ms}"
[[stages]]
id = "s"
function = "test.collect"
inputs = ["g"]
[stages.config]
column = "{{col}}"
[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
path = "dl/${CONVEYOR_TEST_ROWS}/"
`
	f := mustParse(t, src)
	g, err := Validate(f, testRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Node("s").Config.Str("column"); got != "n" {
		t.Errorf("variable not substituted: %q", got)
	}
	if got := g.Node("g").Config.Duration("pause").String(); got != "250ms" {
		t.Errorf("env default not applied: %s", got)
	}
	if g.Node("g").Spec.Name != "test.gen" {
		t.Errorf("legacy type alias not resolved")
	}
	if f.ErrorHandling.DeadLetter.Path != "dl/42/" || !f.ErrorHandling.DeadLetter.Enabled {
		t.Errorf("dead letter: %+v", f.ErrorHandling.DeadLetter)
	}
	if f.Global.BatchSize != 100 || f.ErrorHandling.Strategy != StrategyContinue {
		t.Errorf("global/error_handling not decoded: %+v %+v", f.Global, f.ErrorHandling)
	}
	if g.Node("s").Strategy != StrategyContinue {
		t.Errorf("pipeline strategy not inherited")
	}
}

func TestParseMissingEnvAndSyntax(t *testing.T) {
	f := mustParse(t, `
[[stages]]
id = "g"
function = "test.gen"
[stages.config]
rows = 1
mode = "${CONVEYOR_SURELY_UNSET}"
`)
	_, err := Validate(f, testRegistry())
	if err == nil || !strings.Contains(err.Error(), "environment variable CONVEYOR_SURELY_UNSET is not set") {
		t.Fatalf("got %v", err)
	}
	_, err = Parse("bad.toml", []byte("[[stages]]\nid = \"x\nfunction = 1\n"))
	if err == nil || !strings.Contains(err.Error(), "bad.toml:2") {
		t.Fatalf("syntax error without line: %v", err)
	}
}

func TestConfigTableOrderKept(t *testing.T) {
	r := NewRegistry()
	r.Register(&Spec{Name: "t.cols", Kind: KindSource, Params: []Param{{Name: "columns", Type: TypeTable}},
		New: func(Config, BuildEnv) (any, error) { return genOp{}, nil }})
	f := mustParse(t, `
[[stages]]
id = "c"
function = "t.cols"
[stages.config.columns]
zeta = "1"
alpha = "2"
mid = "3"
`)
	g, err := Validate(f, r)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(g.Node("c").Config.SortedKeys("columns"), ",")
	if got != "zeta,alpha,mid" {
		t.Errorf("order %s", got)
	}
}

func TestNearest(t *testing.T) {
	cands := []string{"csv.read", "json.read", "filter.apply"}
	for in, want := range map[string]string{"csv.raed": "csv.read", "filtr.apply": "filter.apply", "csv": "csv.read", "zzzzzzzz": ""} {
		if got := Nearest(in, cands); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", in, got, want)
		}
	}
}
