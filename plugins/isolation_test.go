package plugins_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/plugins"
)

// crashPipeline: 4 batches of 1000 rows through cexample.add_column,
// which crashes the way given on batch crashOn of each instance.
func crashPipeline(crash string, crashOn int, strategy string) string {
	return fmt.Sprintf(`
[pipeline]
name = "crash"

[[stages]]
id = "seq"
function = "cexample.sequence"
[stages.config]
count = 4000
batch_rows = 1000

[[stages]]
id = "tag"
function = "cexample.add_column"
inputs = ["seq"]
[stages.config]
crash = %q
crash_on_batch = %d

[[stages]]
id = "out"
function = "json.write"
inputs = ["tag"]
[stages.config]
path = "out.jsonl"
format = "jsonl"

[error_handling]
strategy = %q
max_retries = 3
retry_delay_seconds = 0
[error_handling.dead_letter_queue]
enabled = true
path = "errors/"
`, crash, crashOn, strategy)
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	return strings.Count(readFile(t, path), "\n")
}

// A segfault in a process-isolated plugin fails only its stage: the run
// stops with an error naming the stage and the crash, nothing is left at
// the sink's target, and this process goes on (the same plugin then runs
// a clean pipeline).
func TestSegfaultStopsOnlyTheStage(t *testing.T) {
	p := open(t, cPlugin(t), plugins.IsolationProcess)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	_, err := runPipeline(t, registry(t, p), dir, crashPipeline("segfault", 2, "stop"), mem)
	if !errors.Is(err, plugins.ErrCrashed) {
		t.Fatalf("err = %v, want ErrCrashed", err)
	}
	for _, want := range []string{`stage "tag"`, p.Path(), "SIGSEGV"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, serr := os.Stat(filepath.Join(dir, "out.jsonl")); serr == nil {
		t.Error("the aborted sink left out.jsonl")
	}
	if _, err := runPipeline(t, registry(t, p), dir, crashPipeline("segfault", 99, "stop"), mem); err != nil {
		t.Fatalf("a clean run after the crash: %v", err)
	}
	if n := countLines(t, filepath.Join(dir, "out.jsonl")); n != 4000 {
		t.Errorf("%d rows after the crash", n)
	}
}

// Under "retry" the dead child is replaced and the batch retried: every
// row arrives, in order, and the retries are counted.
func TestSegfaultRetryRestartsHost(t *testing.T) {
	p := open(t, cPlugin(t), plugins.IsolationProcess)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	r, err := runPipeline(t, registry(t, p), dir, crashPipeline("segfault", 2, "retry"), mem)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&want, "{\"n\":%d,\"plugin_value\":1}\n", i)
	}
	if got := readFile(t, filepath.Join(dir, "out.jsonl")); got != want.String() {
		t.Errorf("out.jsonl has %d lines, not the 4000 rows in order", strings.Count(got, "\n"))
	}
	// Batch 2 of each instance crashes: batches 2, 3 and 4 each crash a
	// child once and pass on the retry, in a new child.
	for _, s := range r.Report() {
		if s.ID == "tag" && (s.Retries != 3 || s.RowsOut != 4000) {
			t.Errorf("tag: %d retries, %d rows out; want 3 and 4000", s.Retries, s.RowsOut)
		}
	}
}

// Under "continue" the rows of a batch whose child aborted go to the
// dead-letter output with the reason, and the stage goes on.
func TestAbortContinueDeadLetters(t *testing.T) {
	p := open(t, cPlugin(t), plugins.IsolationProcess)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	r, err := runPipeline(t, registry(t, p), dir, crashPipeline("abort", 2, "continue"), mem)
	if err != nil {
		t.Fatal(err)
	}
	// Batches 2 and 4 crash (batch 3 is the first of a new child).
	if n := countLines(t, filepath.Join(dir, "out.jsonl")); n != 2000 {
		t.Errorf("%d rows out, want 2000", n)
	}
	if n := r.DeadLettered(); n != 2000 {
		t.Errorf("%d rows dead-lettered, want 2000", n)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "errors", "*"))
	if len(files) == 0 {
		t.Fatal("no dead-letter file")
	}
	if dl := readFile(t, files[0]); !strings.Contains(dl, "SIGABRT") || !strings.Contains(dl, `"stage":"tag"`) {
		t.Errorf("dead letter does not give the reason: %.300s", dl)
	}
}

// A host binary that does not serve the protocol is refused clearly, and a
// process started as a plugin host never starts another (no recursion
// through a test binary that lacks the TestMain hook).
func TestBadHostBinary(t *testing.T) {
	path := cPlugin(t)
	_, err := plugins.Open(path, plugins.Options{Isolation: plugins.IsolationProcess, HostBinary: "/bin/sh"})
	if !errors.Is(err, plugins.ErrCrashed) || !strings.Contains(err.Error(), path) {
		t.Errorf("sh as host: %v", err)
	}
	t.Setenv("CONVEYOR_PLUGIN_HOST_CHILD", "1")
	_, err = plugins.Open(path, plugins.Options{Isolation: plugins.IsolationProcess})
	if err == nil || !strings.Contains(err.Error(), "did not run `plugin-host`") {
		t.Errorf("nested host: %v", err)
	}
}
