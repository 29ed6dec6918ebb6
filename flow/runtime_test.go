package flow

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"github.com/apache/arrow-go/v18/arrow"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
)

// startPipeline validates src against reg, builds it and starts it on its
// own goroutine; the returned channel receives Run's result.
func startPipeline(ctx context.Context, t *testing.T, reg *Registry, src string, opts Options) (*Runner, <-chan error) {
	t.Helper()
	g, err := Validate(mustParse(t, src), reg)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	r, err := NewRunner(g, opts)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return r, done
}

func runPipeline(t *testing.T, src string, opts Options) (*Runner, error) {
	t.Helper()
	r, done := startPipeline(context.Background(), t, testRegistry(), src, opts)
	return r, <-done
}

func seq(from, to, step int64) []int64 {
	var out []int64
	for i := from; i < to; i++ {
		out = append(out, i*step)
	}
	return out
}

func TestRunFanOutFanIn(t *testing.T) {
	resetCollected()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := `
[global]
channel_capacity = 2
[[stages]]
id = "gen"
function = "test.gen"
[stages.config]
rows = 1000
batch = 7
[[stages]]
id = "dbl"
function = "test.double"
inputs = ["gen"]
[[stages]]
id = "both"
function = "test.union"
inputs = ["gen", "dbl"]
[[stages]]
id = "raw"
function = "test.collect"
inputs = ["gen"]
[[stages]]
id = "merged"
function = "test.collect"
inputs = ["both"]
`
	r, err := runPipeline(t, src, Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if got := collected.rows["raw"]; !slices.Equal(got, seq(0, 1000, 1)) {
		t.Errorf("raw: %d rows, order kept? %v", len(got), slices.IsSorted(got))
	}
	merged := slices.Clone(collected.rows["merged"])
	slices.Sort(merged)
	want := append(seq(0, 1000, 1), seq(0, 1000, 2)...)
	slices.Sort(want)
	if !slices.Equal(merged, want) {
		t.Errorf("merged: got %d rows, want %d", len(merged), len(want))
	}
	if !collected.committed["raw"] || !collected.committed["merged"] {
		t.Error("sinks not committed")
	}
	rep := r.Report()
	if rep[0].ID != "gen" || rep[0].RowsOut != 1000 || rep[0].BatchesOut != 143 {
		t.Errorf("gen report %+v", rep[0])
	}
	for _, s := range rep {
		if s.ID == "both" && (s.RowsIn != 2000 || s.RowsOut != 2000) {
			t.Errorf("union report %+v", s)
		}
	}
}

func TestRunStopOnBadRowNamesLocation(t *testing.T) {
	resetCollected()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	_, err := runPipeline(t, `
[[stages]]
id = "gen"
function = "test.gen"
[stages.config]
rows = 100
bad_every = 40
[[stages]]
id = "out"
function = "test.collect"
inputs = ["gen"]
`, Options{Alloc: mem})
	if !errors.Is(err, ErrRowRejected) || !strings.Contains(err.Error(), `stage "gen": gen:1: bad value 0`) {
		t.Fatalf("got %v", err)
	}
	if !collected.aborted["out"] || collected.committed["out"] {
		t.Error("sink should abort, not commit")
	}
}

func TestRunContinueDeadLetters(t *testing.T) {
	resetCollected()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	r, err := runPipeline(t, `
[pipeline]
name = "dl"
[[stages]]
id = "gen"
function = "test.gen"
[stages.config]
rows = 100
bad_every = 40
[[stages]]
id = "dbl"
function = "test.double"
inputs = ["gen"]
[stages.config]
fail_on = 55
[[stages]]
id = "out"
function = "test.collect"
inputs = ["dbl"]
[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
path = "`+dir+`/"
`, Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	// 3 bad rows (0, 40, 80) and the 10-row batch holding 55 (50..59, minus none bad).
	if got := len(collected.rows["out"]); got != 100-3-10 {
		t.Errorf("out rows %d", got)
	}
	if r.DeadLettered() != 13 {
		t.Errorf("dead-lettered %d", r.DeadLettered())
	}
	recs := readNDJSON(t, filepath.Join(dir, "dl.dead-letter.ndjson"))
	if len(recs) != 13 {
		t.Fatalf("%d records", len(recs))
	}
	first := recs[0]
	if first.Stage != "gen" || first.Source != "gen:1" || first.Error != "bad value 0" || first.Raw != "0" || first.Time.IsZero() {
		t.Errorf("first record %+v", first)
	}
	var batchRec *DeadLetterRecord
	for i := range recs {
		if recs[i].Stage == "dbl" {
			batchRec = &recs[i]
			break
		}
	}
	if batchRec == nil || batchRec.Error != "cannot double 55" || string(batchRec.Row) != `{"n":50}` {
		t.Errorf("batch record %+v", batchRec)
	}
}

func readNDJSON(t *testing.T, path string) []DeadLetterRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []DeadLetterRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r DeadLetterRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestRunErrorsPortConsumed(t *testing.T) {
	resetCollected()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := runPipeline(t, `
[[stages]]
id = "gen"
function = "test.gen"
[stages.config]
rows = 100
bad_every = 10
on_error = "continue"
[[stages]]
id = "bad"
function = "test.collect"
inputs = ["gen.errors"]
[stages.config]
column = "error"
[[stages]]
id = "good"
function = "test.collect"
inputs = ["gen"]
`, Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	if len(collected.rows["bad"]) != 10 || len(collected.rows["good"]) != 90 {
		t.Errorf("bad %d good %d", len(collected.rows["bad"]), len(collected.rows["good"]))
	}
	if r.DeadLettered() != 0 {
		t.Errorf("consumed errors must not be dead-lettered")
	}
}

func TestRunRetryOnMockClock(t *testing.T) {
	resetCollected()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	mock := clock.NewMock()
	r, done := startPipeline(context.Background(), t, testRegistry(), `
[[stages]]
id = "gen"
function = "test.gen"
[stages.config]
rows = 5
[[stages]]
id = "dbl"
function = "test.double"
inputs = ["gen"]
[stages.config]
fail_times = 2
[[stages]]
id = "out"
function = "test.collect"
inputs = ["dbl"]
[error_handling]
strategy = "retry"
max_retries = 3
retry_delay_seconds = 10
`, Options{Alloc: mem, Clock: mock})
	// Advance the mock clock until the run ends: 10s then 20s of backoff.
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(collected.rows["out"], []int64{0, 2, 4, 6, 8}) {
				t.Errorf("out %v", collected.rows["out"])
			}
			if rep := r.Report(); rep[1].Retries != 2 {
				t.Errorf("retries %d", rep[1].Retries)
			}
			return
		default:
			mock.Add(time.Second)
			runtimeGosched()
		}
	}
}

func TestRunCancelAbortsSinksWithoutLeaks(t *testing.T) {
	resetCollected()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	r, done := startPipeline(ctx, t, testRegistry(), `
[[stages]]
id = "gen"
function = "test.gen"
[stages.config]
rows = 1000000
block_after = 500
[[stages]]
id = "out"
function = "test.collect"
inputs = ["gen"]
`, Options{Alloc: mem})
	for r.Report()[1].RowsIn < 500 {
		runtimeGosched()
	}
	cancel()
	err := <-done
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("got %v", err)
	}
	if !collected.aborted["out"] || collected.committed["out"] {
		t.Error("sink should abort on cancel")
	}
}

func TestDrainStopsSourcesAndCommits(t *testing.T) {
	resetCollected()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, done := startPipeline(context.Background(), t, testRegistry(), `
[[stages]]
id = "gen"
function = "test.gen"
[stages.config]
rows = 100000000
[[stages]]
id = "out"
function = "test.collect"
inputs = ["gen"]
`, Options{Alloc: mem})
	for r.Report()[1].RowsIn < 100 {
		runtimeGosched()
	}
	r.Drain()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !collected.committed["out"] {
		t.Error("drained sink must commit")
	}
	if n := r.Report()[0].RowsOut; n != int64(len(collected.rows["out"])) || n >= 100000000 {
		t.Errorf("emitted %d, collected %d", n, len(collected.rows["out"]))
	}
}

// gateSink blocks every Write until gate is closed.
type gateSink struct{ gate chan struct{} }

func (g gateSink) Write(ctx context.Context, st *Stage, b arrow.RecordBatch) error {
	select {
	case <-g.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (gateSink) Close(context.Context, *Stage) error { return nil }
func (gateSink) Abort()                              {}

// A full channel blocks the producer, and the time it waited is counted.
func TestBlockedTimeIsCounted(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	gate := make(chan struct{})
	reg := testRegistry()
	reg.Register(&Spec{Name: "test.gate", Kind: KindSink, Summary: "blocks",
		New: func(Config, BuildEnv) (any, error) { return gateSink{gate}, nil }})
	r, done := startPipeline(context.Background(), t, reg, `
[global]
channel_capacity = 1
[[stages]]
id = "gen"
function = "test.gen"
[stages.config]
rows = 50
batch = 10
[[stages]]
id = "slow"
function = "test.gate"
inputs = ["gen"]
`, Options{Alloc: mem})
	// One batch in the sink, one in the channel, the third send waits.
	for r.Report()[0].BatchesOut < 3 {
		runtimeGosched()
	}
	time.Sleep(20 * time.Millisecond)
	if n := r.Report()[0].BatchesOut; n != 3 {
		t.Fatalf("backpressure did not hold the source: %d batches out", n)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b := r.Report()[0].Blocked; b < 10*time.Millisecond {
		t.Errorf("blocked time %v", b)
	}
}
