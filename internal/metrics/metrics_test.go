package metrics

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/connectors/stdio"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// build validates a pipeline against reg and returns a runner on a checked
// allocator, checked for leaks when the test ends.
func build(t *testing.T, reg *flow.Registry, dir, toml string, clk clock.Clock) *flow.Runner {
	t.Helper()
	f, err := flow.Parse(filepath.Join(dir, "p.toml"), []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem, BaseDir: dir, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// scrape GETs url/path and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// families parses a text exposition.
func families(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, text)
	}
	return fams
}

// value is the value of family name's sample for stage (stage "" for an
// unlabelled family); ok is false when there is no such sample.
func value(fams map[string]*dto.MetricFamily, name, stage string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		got := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "stage" {
				got = l.GetValue()
			}
		}
		if got != stage {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

func mustValue(t *testing.T, fams map[string]*dto.MetricFamily, name, stage string) float64 {
	t.Helper()
	v, ok := value(fams, name, stage)
	if !ok {
		t.Fatalf("no sample %s{stage=%q}", name, stage)
	}
	return v
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A bounded pipeline csv.read → filter.apply → csv.write: after the run,
// /metrics holds exactly the rows and batches that went through each stage,
// the rejected row and the dead-letter record, with stage and function
// labels, beside the Go and process collectors; /readyz says the run ended.
func TestBoundedPipelineCounts(t *testing.T) {
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id,amount\n")
	kept := 0
	for i := 1; i <= 23; i++ {
		if i == 7 {
			csv.WriteString("7,not-a-number\n") // rejected by the schema
			continue
		}
		fmt.Fprintf(&csv, "%d,%d\n", i, i*10)
		if i*10 > 100 {
			kept++
		}
	}
	writeFile(t, filepath.Join(dir, "in.csv"), csv.String())
	r := build(t, catalog.Registry(), dir, `
[pipeline]
name = "bounded"
[global]
batch_size = 5
channel_capacity = 3
[error_handling]
strategy = "continue"
[error_handling.dead_letter_queue]
enabled = true
path = "dead.jsonl"

[[stages]]
id = "src"
function = "csv.read"
[stages.config]
path = "in.csv"
schema = { id = "int64", amount = "int64" }

[[stages]]
id = "big"
function = "filter.apply"
inputs = ["src"]
[stages.config]
column = "amount"
operator = ">"
value = 100

[[stages]]
id = "out"
function = "csv.write"
inputs = ["big"]
[stages.config]
path = "out.csv"
`, nil)
	ctx := context.Background()
	srv, err := Serve(ctx, "127.0.0.1:0", r, Options{Pipeline: "bounded"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	base := "http://" + srv.Addr()

	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Errorf("/readyz before the run: %d %q", code, body)
	}
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(dir, "out.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(out), "\n") - 1; n != kept {
		t.Fatalf("out.csv has %d rows, want %d", n, kept)
	}

	code, text := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, text)
	}
	fams := families(t, text)
	read := 22 // 23 lines, one rejected
	want := []struct {
		name, stage string
		v           float64
	}{
		{"conveyor_stage_rows_out_total", "src", float64(read)},
		{"conveyor_stage_rows_in_total", "src", 0},
		{"conveyor_stage_rejected_rows_total", "src", 1},
		{"conveyor_stage_rows_in_total", "big", float64(read)},
		{"conveyor_stage_rows_out_total", "big", float64(kept)},
		{"conveyor_stage_rejected_rows_total", "big", 0},
		{"conveyor_stage_rows_in_total", "out", float64(kept)},
		{"conveyor_stage_rows_out_total", "out", float64(kept)},
		{"conveyor_stage_input_capacity_batches", "big", 3},
		{"conveyor_stage_input_capacity_batches", "src", 0},
		{"conveyor_stage_input_queued_batches", "out", 0},
		{"conveyor_stage_late_rows_total", "big", 0},
		{"conveyor_dead_letter_records_total", "", 1},
		{"conveyor_pipeline_ready", "", 0},
		{"conveyor_pipeline_draining", "", 0},
	}
	for _, w := range want {
		if got := mustValue(t, fams, w.name, w.stage); got != w.v {
			t.Errorf("%s{stage=%q} = %v, want %v", w.name, w.stage, got, w.v)
		}
	}
	// Batches: what one stage emitted, the next received.
	srcOut := mustValue(t, fams, "conveyor_stage_batches_out_total", "src")
	if srcOut < float64((read+4)/5) || srcOut != mustValue(t, fams, "conveyor_stage_batches_in_total", "big") {
		t.Errorf("batches: src out %v, big in %v", srcOut, mustValue(t, fams, "conveyor_stage_batches_in_total", "big"))
	}
	if got, want := mustValue(t, fams, "conveyor_stage_batches_in_total", "out"), mustValue(t, fams, "conveyor_stage_batches_out_total", "big"); got != want || got == 0 {
		t.Errorf("batches: big out %v, out in %v", want, got)
	}
	if b := mustValue(t, fams, "conveyor_stage_read_bytes_total", "src"); b != float64(len(csv.String())) {
		t.Errorf("read bytes %v, want %d", b, len(csv.String()))
	}
	if _, ok := value(fams, "conveyor_stage_watermark_seconds", "src"); ok {
		t.Error("a watermark sample for a stage that emitted none")
	}
	// Labels and types.
	f := fams["conveyor_stage_rows_in_total"]
	if f.GetType() != dto.MetricType_COUNTER || len(f.GetMetric()) != 3 {
		t.Fatalf("rows_in family: %v", f)
	}
	labels := map[string]string{}
	for _, m := range f.GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		labels[l["stage"]] = l["function"]
	}
	if labels["src"] != "csv.read" || labels["big"] != "filter.apply" || labels["out"] != "csv.write" {
		t.Errorf("stage → function labels: %v", labels)
	}
	if fams["conveyor_stage_input_queued_batches"].GetType() != dto.MetricType_GAUGE {
		t.Error("queued batches is not a gauge")
	}
	if !strings.Contains(text, `conveyor_pipeline_info{pipeline="bounded"} 1`) {
		t.Error("no conveyor_pipeline_info")
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("no %s (Go/process collectors)", name)
		}
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "ended") {
		t.Errorf("/readyz after the run: %d %q", code, body)
	}
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
}

// waitFor scrapes /metrics until cond holds (bounded by a deadline).
func waitFor(t *testing.T, base, what string, cond func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, text := get(t, base+"/metrics")
		fams := families(t, text)
		if cond(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", what, text)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A live pipeline (stdin.stream on a pipe kept open → discard.write): the
// rows written show in the counters while the run goes on, /readyz is 200
// once every stage runs and 503 as soon as Drain is called, and the server
// refuses connections after Shutdown.
func TestLiveStreamReadiness(t *testing.T) {
	dir := t.TempDir()
	pr, pw := io.Pipe()
	defer pw.Close()
	reg := catalog.RegistryWith(stdio.Streams{Stdin: pr, Stdout: io.Discard})
	r := build(t, reg, dir, `
[pipeline]
name = "live"
[[stages]]
id = "in"
function = "stdin.stream"
[stages.config]
format = "jsonl"
linger = "1ms"
[[stages]]
id = "sink"
function = "discard.write"
inputs = ["in"]
`, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := Serve(ctx, "127.0.0.1:0", r, Options{Pipeline: "live"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	for i := range 5 {
		if _, err := fmt.Fprintf(pw, "{\"n\": %d}\n", i); err != nil {
			t.Fatal(err)
		}
	}
	fams := waitFor(t, base, "5 rows at the sink", func(f map[string]*dto.MetricFamily) bool {
		v, _ := value(f, "conveyor_stage_rows_in_total", "sink")
		return v == 5
	})
	if v := mustValue(t, fams, "conveyor_stage_rows_out_total", "in"); v != 5 {
		t.Errorf("source rows out %v, want 5", v)
	}
	if v := mustValue(t, fams, "conveyor_stage_rows_out_total", "sink"); v != 5 {
		t.Errorf("sink rows written %v, want 5", v)
	}
	// Every stage has started (the sink received rows): ready.
	if code, body := get(t, base+"/readyz"); code != http.StatusOK || body != "ready: running\n" {
		t.Errorf("/readyz while running: %d %q", code, body)
	}
	if v := mustValue(t, fams, "conveyor_pipeline_ready", ""); v != 1 {
		t.Errorf("conveyor_pipeline_ready %v while running", v)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while running: %d", code)
	}

	r.Drain()
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "draining") && !strings.Contains(body, "ended") {
		t.Errorf("/readyz after Drain: %d %q", code, body)
	}
	_, text := get(t, base+"/metrics")
	fams = families(t, text)
	if mustValue(t, fams, "conveyor_pipeline_draining", "") != 1 || mustValue(t, fams, "conveyor_pipeline_ready", "") != 0 {
		t.Errorf("after Drain: draining %v, ready %v", mustValue(t, fams, "conveyor_pipeline_draining", ""), mustValue(t, fams, "conveyor_pipeline_ready", ""))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pw.Close() // ends the reader goroutine blocked on the pipe
	if code, body := get(t, base+"/readyz"); code != http.StatusServiceUnavailable || body != "not ready: ended\n" {
		t.Errorf("/readyz after the run: %d %q", code, body)
	}
	if err := srv.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(); err != nil { // idempotent
		t.Fatal(err)
	}
	if resp, err := client.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("the server still answers after Shutdown")
	}
}

// tickSource emits one row and the watermark given by its config, then
// waits for the drain.
type tickSource struct{ wm time.Time }

var tickSchema = arrow.NewSchema([]arrow.Field{{Name: "n", Type: arrow.PrimitiveTypes.Int64}}, nil)

func (s tickSource) Run(ctx context.Context, st *flow.Stage) error {
	b := array.NewInt64Builder(st.Alloc)
	b.Append(1)
	arr := b.NewArray()
	b.Release()
	rec := array.NewRecordBatch(tickSchema, []arrow.Array{arr}, 1)
	arr.Release()
	if err := st.Emit(ctx, rec); err != nil {
		return err
	}
	if err := st.EmitWatermark(ctx, s.wm); err != nil {
		return err
	}
	select {
	case <-st.Draining():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Watermark and lag are read on the runner's clock: a mock clock moved by
// 30 s moves the lag by 30 s, with no waiting.
func TestWatermarkLagOnRunnerClock(t *testing.T) {
	wm := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	mock := clock.NewMock()
	mock.Set(wm.Add(90 * time.Second))
	reg := catalog.Registry()
	reg.Register(&flow.Spec{Name: "test.tick", Kind: flow.KindSource, Summary: "one row and a watermark",
		Unbounded: func(flow.Config) bool { return true },
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return tickSource{wm: wm}, nil
		}})
	r := build(t, reg, t.TempDir(), `
[pipeline]
name = "wm"
[[stages]]
id = "tick"
function = "test.tick"
[[stages]]
id = "sink"
function = "discard.write"
inputs = ["tick"]
`, mock)
	c := NewCollector(r, Options{Pipeline: "wm", Clock: mock})
	promReg := NewRegistry(c)
	gather := func() map[string]*dto.MetricFamily {
		t.Helper()
		fs, err := promReg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*dto.MetricFamily{}
		for _, f := range fs {
			m[f.GetName()] = f
		}
		return m
	}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for r.Report()[0].Watermark.IsZero() || !r.Started() {
		if time.Now().After(deadline) {
			t.Fatal("no watermark")
		}
		time.Sleep(time.Millisecond)
	}
	fams := gather()
	if v := mustValue(t, fams, "conveyor_stage_watermark_seconds", "tick"); v != float64(wm.Unix()) {
		t.Errorf("watermark %v, want %d", v, wm.Unix())
	}
	if v := mustValue(t, fams, "conveyor_stage_watermark_lag_seconds", "tick"); v != 90 {
		t.Errorf("lag %v, want 90", v)
	}
	if v := mustValue(t, fams, "conveyor_pipeline_ready", ""); v != 1 {
		t.Errorf("ready %v", v)
	}
	mock.Add(30 * time.Second)
	if v := mustValue(t, gather(), "conveyor_stage_watermark_lag_seconds", "tick"); v != 120 {
		t.Errorf("lag after 30 s %v, want 120", v)
	}
	r.Drain()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v := mustValue(t, gather(), "conveyor_stage_rows_in_total", "sink"); v != 1 {
		t.Errorf("sink rows %v", v)
	}
}

// The end-of-input watermark is +Inf with no lag.
func TestWatermarkValues(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	if s, lag := watermarkValues(flow.EndOfTime, now); !math.IsInf(s, 1) || lag != 0 {
		t.Errorf("EndOfTime: %v, %v", s, lag)
	}
	if s, lag := watermarkValues(now.Add(-1500*time.Millisecond), now); s != float64(now.Unix())-1.5 || lag != 1.5 {
		t.Errorf("1.5 s behind: %v, %v", s, lag)
	}
}

// A busy port is an error naming the address; ":0" picks a free port.
func TestListenErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a, err := Listen(ctx, "127.0.0.1:0", http.NotFoundHandler(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(a.Addr(), ":0") {
		t.Errorf("bound address %s", a.Addr())
	}
	if _, err := Listen(ctx, a.Addr(), http.NotFoundHandler(), nil); err == nil || !strings.Contains(err.Error(), a.Addr()) {
		t.Errorf("second listener on %s: %v", a.Addr(), err)
	}
	cancel() // ctx done: the server shuts down by itself
	<-a.done
	if resp, err := client.Get("http://" + a.Addr() + "/"); err == nil {
		resp.Body.Close()
		t.Error("the server still answers after its context ended")
	}
}
