package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// windowPipeline reads JSON lines from stdin with the given source, counts
// and sums them in 1-minute tumbling windows per country (event time ts,
// 30 s of allowed out-of-orderness) and prints the windows as JSON lines.
// Late rows go to the dead-letter file.
func windowPipeline(source string) string {
	return `[pipeline]
name = "live_windows"

[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
enabled = true
path = "dead.jsonl"

[[stages]]
id = "in"
function = "` + source + `"
[stages.config]
format = "jsonl"
linger = "10ms"

[[stages]]
id = "w"
function = "window.apply"
inputs = ["in"]
[stages.config]
type = "tumbling"
size = "1m"
time_column = "ts"
watermark_delay = "30s"
group_by = "country"
aggregations = [
  { operation = "count", output_column = "n" },
  { column = "amount", operation = "sum", output_column = "total" },
]

[[stages]]
id = "out"
function = "stdout.stream"
inputs = ["w"]
[stages.config]
format = "jsonl"
`
}

// The rows of the windows test: out of order within the 30 s delay
// (10:00:50 after 10:01:10), and one row too late (10:00:59 US, after
// 10:02:10 moved the watermark to 10:01:40 and closed the first window).
const windowRows = `{"ts":"2024-05-01T10:00:05Z","country":"FR","amount":10}
{"ts":"2024-05-01T10:00:40Z","country":"US","amount":5}
{"ts":"2024-05-01T10:01:10Z","country":"FR","amount":1}
{"ts":"2024-05-01T10:00:50Z","country":"FR","amount":7}
{"ts":"2024-05-01T10:02:10Z","country":"US","amount":2}
{"ts":"2024-05-01T10:00:59Z","country":"US","amount":100}
{"ts":"2024-05-01T10:03:05Z","country":"FR","amount":4}
`

const windowOutput = `{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"FR","n":2,"total":17}
{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"US","n":1,"total":5}
{"window_start":"2024-05-01T10:01:00Z","window_end":"2024-05-01T10:02:00Z","country":"FR","n":1,"total":1}
{"window_start":"2024-05-01T10:02:00Z","window_end":"2024-05-01T10:03:00Z","country":"US","n":1,"total":2}
{"window_start":"2024-05-01T10:03:00Z","window_end":"2024-05-01T10:04:00Z","country":"FR","n":1,"total":4}
`

// JSON lines piped into `conveyor stream`: windows come out in order, the
// late row goes to the dead-letter output with reason "late", and at EOF
// the stream ends as a bounded job (every open window emitted, exit 0).
func TestStreamStdinWindowsEndAtEOF(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "live.toml"), windowPipeline("stdin.stream"))
	r := conveyor(t, dir, strings.NewReader(windowRows), "stream", "--log-level", "error", "live.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if r.stdout != windowOutput {
		t.Errorf("windows:\n%s\nwant:\n%s", r.stdout, windowOutput)
	}
	dead, err := os.ReadFile(filepath.Join(dir, "dead.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(dead)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "late") || !strings.Contains(lines[0], `10:00:59`) {
		t.Errorf("dead letters: %q", dead)
	}
}

// A live stream: rows written to a pipe that stays open reach the windows
// within linger, a closed window is printed while the stream runs, and
// SIGINT drains it: the open windows are emitted (on_shutdown = "emit"),
// stdout is flushed and the exit status is 0.
func TestStreamDrainsOnSignal(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "live.toml"), windowPipeline("stdin.stream"))
	cmd := exec.Command(binary, "stream", "--log-level", "error", "live.toml")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Everything up to the 10:03:05 row: the first three windows close.
	rows := strings.SplitAfter(windowRows, "\n")
	if _, err := io.WriteString(stdin, strings.Join(rows[:7], "")); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	want := strings.SplitAfter(windowOutput, "\n")
	for i := range 3 {
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("reading window %d while the stream runs: %v\n%s", i+1, err, stderr.String())
		}
		if line != want[i] {
			t.Fatalf("window %d: %s want %s", i+1, line, want[i])
		}
	}
	// The stream is live (stdin still open): interrupt it.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	if string(rest) != want[3]+want[4] {
		t.Errorf("windows emitted by the drain:\n%s\nwant:\n%s", rest, want[3]+want[4])
	}
	stdin.Close()
}

// A row piped into stdin.stream reaches stdout.stream while the input is
// still open: a batch far from full is handed on after linger.
func TestStreamLingerHandsOnPartialBatches(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "echo.toml"), `[pipeline]
name = "echo"

[[stages]]
id = "in"
function = "stdin.stream"
[stages.config]
format = "csv"
batch_size = 10000
linger = "20ms"

[[stages]]
id = "out"
function = "stdout.stream"
inputs = ["in"]
[stages.config]
format = "jsonl"
`)
	cmd := exec.Command(binary, "stream", "--log-level", "error", "echo.toml")
	cmd.Dir = dir
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	out := bufio.NewReader(stdout)
	io.WriteString(stdin, "id,name\n1,ana\n")
	if line, err := out.ReadString('\n'); err != nil || line != `{"id":1,"name":"ana"}`+"\n" {
		t.Fatalf("first row: %q, %v", line, err)
	}
	io.WriteString(stdin, "2,bo\n")
	if line, err := out.ReadString('\n'); err != nil || line != `{"id":2,"name":"bo"}`+"\n" {
		t.Fatalf("second row: %q, %v", line, err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit at EOF: %v", err)
	}
}

// `conveyor run` refuses a pipeline whose source never ends and points at
// `conveyor stream`; bounded by its parameter, the same source runs.
func TestRunRefusesUnboundedSource(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.log"), "a\nb\n")
	pipeline := func(follow bool) string {
		return fmt.Sprintf(`[pipeline]
name = "tail"

[[stages]]
id = "tail"
function = "file.watch"
[stages.config]
path = "app.log"
format = "raw"
follow = %v

[[stages]]
id = "out"
function = "stdout.stream"
inputs = ["tail"]
`, follow)
	}
	writeFile(t, filepath.Join(dir, "tail.toml"), pipeline(true))
	r := conveyor(t, dir, nil, "run", "tail.toml")
	if r.code != 2 || !strings.Contains(r.stderr, `"tail" never ends by itself`) || !strings.Contains(r.stderr, "conveyor stream tail.toml") {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	writeFile(t, filepath.Join(dir, "tail.toml"), pipeline(false))
	r = conveyor(t, dir, nil, "run", "--log-level", "error", "tail.toml")
	if r.code != 0 || !strings.HasPrefix(r.stdout, `{"line":"a"}`+"\n"+`{"line":"b"}`+"\n") {
		t.Errorf("bounded: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The streaming example runs on the data that ships with it.
func TestStreamLiveWindowsExample(t *testing.T) {
	dir := workdir(t)
	in, err := os.Open(filepath.Join(dir, "examples/data/clicks.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r := conveyor(t, dir, in, "stream", "examples/live_windows.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 7 || lines[0] != `{"window_start":"2024-05-01T10:00:00Z","window_end":"2024-05-01T10:01:00Z","country":"FR","clicks":2,"amount":17}` {
		t.Errorf("windows:\n%s", r.stdout)
	}
	if late := readLines(t, filepath.Join(dir, "examples/out/late.jsonl")); len(late) != 1 || !strings.Contains(late[0], `"amount":100`) {
		t.Errorf("late rows: %q", late)
	}
	if !strings.Contains(r.stderr, `pipeline "live_windows" finished`) {
		t.Errorf("summary missing:\n%s", r.stderr)
	}
}
