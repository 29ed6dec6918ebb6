package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the conveyor binary built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "conveyor-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "conveyor")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building conveyor:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// workdir copies examples/ into a scratch directory, which becomes the
// working directory of the command (pipeline paths are relative to it).
func workdir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "examples"), os.DirFS("../../examples")); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(dir, "examples", "out"))
	return dir
}

type result struct {
	code           int
	stdout, stderr string
}

func conveyor(t *testing.T, dir string, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func TestRunSalesExample(t *testing.T) {
	dir := workdir(t)
	r := conveyor(t, dir, nil, "run", "examples/sales.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{`pipeline "sales" finished`, "csv.read", "filter.apply", "rows/s"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stderr)
		}
	}
	// Reference: the rows of the CSV with amount >= 100, computed here.
	var want int
	for i, line := range readLines(t, filepath.Join(dir, "examples/data/sales.csv")) {
		if i == 0 {
			continue
		}
		var amount float64
		fmt.Sscan(strings.Split(line, ",")[5], &amount)
		if amount >= 100 {
			want++
		}
	}
	lines := readLines(t, filepath.Join(dir, "examples/out/big_orders.jsonl"))
	if len(lines) != want || want == 0 {
		t.Fatalf("got %d JSON lines, want %d", len(lines), want)
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &row); err != nil {
		t.Fatal(err)
	}
	amount, qty, total := row["amount"].(float64), row["qty"].(float64), row["total"].(float64)
	if amount < 100 || total != amount*qty {
		t.Errorf("row %v", row)
	}
	if st, err := os.Stat(filepath.Join(dir, "examples/out/big_orders.parquet")); err != nil || st.Size() == 0 {
		t.Errorf("parquet output: %v", err)
	}
}

func TestRunFanoutExample(t *testing.T) {
	dir := workdir(t)
	r := conveyor(t, dir, nil, "run", "examples/fanout.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "amount_usd") || strings.Count(r.stdout, "\n") < 6 {
		t.Errorf("table preview:\n%s", r.stdout)
	}
	for _, line := range readLines(t, filepath.Join(dir, "examples/out/us_orders.csv"))[1:] {
		if strings.Split(line, ",")[3] != "US" {
			t.Errorf("non-US row %q", line)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "examples/out/slim.arrow")); err != nil {
		t.Error(err)
	}
}

func TestRunDeadLetterExample(t *testing.T) {
	dir := workdir(t)
	r := conveyor(t, dir, nil, "run", "examples/dead_letter.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	clean := readLines(t, filepath.Join(dir, "examples/out/clean_orders.jsonl"))
	rejected := readLines(t, filepath.Join(dir, "examples/out/rejected_orders.jsonl"))
	if len(clean) != 20 || len(rejected) != 3 {
		t.Fatalf("clean %d rejected %d\n%s", len(clean), len(rejected), r.stderr)
	}
	var rec map[string]any
	json.Unmarshal([]byte(rejected[0]), &rec)
	if !strings.HasPrefix(fmt.Sprint(rec["source"]), "examples/data/orders_dirty.csv:6") || rec["stage"] != "load" || rec["error"] == "" {
		t.Errorf("rejected record %v", rec)
	}
}

func TestRunStopsOnBadRowWithLocation(t *testing.T) {
	dir := workdir(t)
	writeFile(t, filepath.Join(dir, "p.toml"), `
[[stages]]
id = "load"
function = "csv.read"
[stages.config]
path = "examples/data/orders_dirty.csv"
schema = { order_id = "int", ts = "timestamp", customer = "string", country = "string", category = "string", amount = "float", qty = "int" }
[[stages]]
id = "out"
function = "csv.write"
inputs = ["load"]
[stages.config]
path = "out/clean.csv"
`)
	r := conveyor(t, dir, nil, "run", "p.toml")
	if r.code != 1 || !strings.Contains(r.stderr, `stage "load"`) || !strings.Contains(r.stderr, "orders_dirty.csv:6") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out/clean.csv")); !os.IsNotExist(err) {
		t.Errorf("a failed run left its output: %v", err)
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.toml"), `[pipeline]
name = "bad"

[[stages]]
id = "load"
function = "csv.raed"
[stages.config]
path = "x.csv"

[[stages]]
id = "f"
function = "filter.apply"
inputs = ["lod"]
[stages.config]
column = "amount"
operator = "=>"
value = 3

[[stages]]
id = "w"
function = "json.write"
inputs = ["f"]
[stages.config]
pth = "out.json"
`)
	r := conveyor(t, dir, nil, "validate", "bad.toml")
	if r.code != 2 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		`bad.toml:6: stage "load": key "function": unknown function "csv.raed" (did you mean "csv.read"?)`,
		`bad.toml:13: stage "f": key "inputs": input "lod" names no stage (did you mean "load"?)`,
		`bad.toml:16: stage "f": key "config.operator"`,
		`bad.toml:24: stage "w": key "config.pth": unknown parameter for json.write (did you mean "path"?)`,
		`stage "w": key "config.path": required parameter of json.write is missing`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("missing %q in:\n%s", want, r.stderr)
		}
	}
	examples := pipelineExamples(t)
	if len(examples) < 3 {
		t.Fatalf("examples: %v", examples)
	}
	for _, ex := range examples {
		rel, _ := filepath.Rel("../..", ex)
		ok := conveyor(t, "../..", nil, "validate", rel)
		if ok.code != 0 || !strings.Contains(ok.stdout, "is valid") {
			t.Errorf("%s: exit %d\n%s%s", rel, ok.code, ok.stdout, ok.stderr)
		}
	}
}

func TestValidateChecksColumnsAgainstTheData(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "in.csv"), "id,amount,country\n1,2.5,FR\n")
	writeFile(t, filepath.Join(dir, "p.toml"), `[pipeline]
name = "p"

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
column = "amout"
operator = ">"
value = 3

[[stages]]
id = "w"
function = "json.write"
inputs = ["big"]
[stages.config]
path = "out.json"
`)
	r := conveyor(t, dir, nil, "validate", "p.toml")
	want := `p.toml:15: stage "big": key "config.column": filter.apply: unknown column "amout" (did you mean "amount"?)`
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, want 2 and %q in:\n%s", r.code, want, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.json")); err == nil {
		t.Error("validate wrote output")
	}
	// run checks the same before reading any data.
	r = conveyor(t, dir, nil, "run", "p.toml")
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("run: exit %d, want 2 and %q in:\n%s", r.code, want, r.stderr)
	}
	// Fixed, the plan shows the schemas and the projection pushed into
	// the reader: only the columns the pipeline uses are parsed.
	writeFile(t, filepath.Join(dir, "p.toml"), `[[stages]]
id = "load"
function = "csv.read"
[stages.config]
path = "in.csv"

[[stages]]
id = "pick"
function = "select.apply"
inputs = ["load"]
[stages.config]
columns = ["amount"]

[[stages]]
id = "w"
function = "json.write"
inputs = ["pick"]
[stages.config]
path = "out.json"
`)
	r = conveyor(t, dir, nil, "validate", "p.toml")
	for _, want := range []string{"load reads only the columns the pipeline uses: amount", "load: id int64, amount float64, country string", "pick: amount float64"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("exit %d, want %q in:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
	}
}

func TestListAndInfo(t *testing.T) {
	r := conveyor(t, ".", nil, "list", "-t", "sources")
	if r.code != 0 || !strings.Contains(r.stdout, "csv.read") || strings.Contains(r.stdout, "csv.write") {
		t.Fatalf("list sources:\n%s%s", r.stdout, r.stderr)
	}
	r = conveyor(t, ".", nil, "list", "--format", "json")
	var items []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) < 13 {
		t.Fatalf("list json (%v): %s", err, r.stdout)
	}
	r = conveyor(t, ".", nil, "info", "csv.read")
	for _, want := range []string{"csv.read (source)", "path", "has_headers", "delimiter", "Alias: headers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("info lacks %q:\n%s", want, r.stdout)
		}
	}
	r = conveyor(t, ".", nil, "info", "csv.read", "--format", "json")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc["name"] != "csv.read" {
		t.Fatalf("info json (%v): %s", err, r.stdout)
	}
	r = conveyor(t, ".", nil, "info", "csv.raed")
	if r.code != 2 || !strings.Contains(r.stderr, `did you mean "csv.read"?`) {
		t.Errorf("info unknown: %d %s", r.code, r.stderr)
	}
	r = conveyor(t, ".", nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "conveyor ") {
		t.Errorf("version: %s", r.stdout)
	}
}

func TestDryRun(t *testing.T) {
	dir := workdir(t)
	r := conveyor(t, dir, nil, "run", "--dry-run", "examples/sales.toml")
	if r.code != 0 || !strings.Contains(r.stdout, "to_parquet") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "examples/out")); !os.IsNotExist(err) {
		t.Error("dry run wrote output")
	}
}

// TestInterruptLeavesNoPartialOutput starts a run that reads stdin, feeds it
// some rows while keeping stdin open, interrupts it, and checks the exit
// status and that neither the target nor a temporary file is left.
func TestInterruptLeavesNoPartialOutput(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("signals")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.toml"), `
[global]
batch_size = 10
[[stages]]
id = "in"
function = "stdin.read"
[stages.config]
format = "jsonl"
infer_rows = 100
[[stages]]
id = "out"
function = "csv.write"
inputs = ["in"]
[stages.config]
path = "out/result.csv"
`)
	cmd := exec.Command(binary, "run", "--log-level", "debug", "p.toml")
	cmd.Dir = dir
	stdin, _ := cmd.StdinPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(stdin)
	for i := range 1000 {
		fmt.Fprintf(w, "{\"n\": %d, \"s\": \"row %d\"}\n", i, i)
	}
	w.Flush()
	// Wait until the writer has created its temporary file: the run is
	// mid-way, with stdin still open.
	deadline := time.Now().Add(20 * time.Second)
	for {
		m, _ := filepath.Glob(filepath.Join(dir, "out", ".result.csv.tmp-*"))
		if len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the run never started writing\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	stdin.Close()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("want exit 130, got %v\n%s", err, errb.String())
	}
	left, _ := filepath.Glob(filepath.Join(dir, "out", "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, "out", ".*"))
	if len(left)+len(hidden) != 0 {
		t.Errorf("left behind: %v %v", left, hidden)
	}
	if !strings.Contains(errb.String(), "interrupted") {
		t.Errorf("stderr: %s", errb.String())
	}
}

// pipelineExamples lists the example pipelines (not their *_test.toml
// test files).
func pipelineExamples(t *testing.T) []string {
	t.Helper()
	all, _ := filepath.Glob("../../examples/*.toml")
	var out []string
	for _, p := range all {
		if !strings.HasSuffix(p, "_test.toml") {
			out = append(out, p)
		}
	}
	return out
}
