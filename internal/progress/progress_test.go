package progress

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeRun is a Source whose counters the test sets.
type fakeRun struct {
	mu      sync.Mutex
	reports []flow.StageReport
}

func newFakeRun() *fakeRun {
	return &fakeRun{reports: []flow.StageReport{
		{ID: "load", Function: "csv.read", Kind: "source"},
		{ID: "big", Function: "filter.apply", Kind: "transform"},
		{ID: "write", Function: "json.write", Kind: "sink"},
	}}
}

// set records that the source read rows and bytes, and the filter kept
// half of them.
func (f *fakeRun) set(rows, bytes int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reports[0].RowsOut, f.reports[0].BytesRead = rows, bytes
	f.reports[1].RowsIn, f.reports[1].RowsOut, f.reports[1].Rejected = rows, rows/2, 1
	f.reports[2].RowsIn = rows / 2
	f.reports[1].Queued, f.reports[1].Capacity = 3, 8
}

func (f *fakeRun) Report() []flow.StageReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]flow.StageReport(nil), f.reports...)
}

func TestMeterRatesFractionAndETA(t *testing.T) {
	m := meter{input: Input{Bytes: 1000}}
	t0 := time.Unix(0, 0)
	rep := func(rows, bytes int64) []flow.StageReport {
		return []flow.StageReport{{Kind: "source", RowsOut: rows, BytesRead: bytes}, {Kind: "sink", RowsIn: rows}}
	}
	s := m.update(t0, 0, rep(0, 0))
	if s.Fraction != 0 || s.ETA != -1 || s.RowsPerSec != 0 {
		t.Fatalf("at start: %+v", s)
	}
	// 100 bytes/s, 10 rows/s for 4 s.
	for i := 1; i <= 4; i++ {
		s = m.update(t0.Add(time.Duration(i)*time.Second), time.Duration(i)*time.Second, rep(int64(10*i), int64(100*i)))
	}
	if s.Rows != 40 || s.Bytes != 400 || s.Fraction != 0.4 || s.RowsPerSec != 10 || s.BytesPerSec != 100 || s.ETA != 6*time.Second {
		t.Fatalf("after 4s: %+v", s)
	}
	// The rate follows the last 5 s: 300 bytes/s from now on.
	m.input.Bytes = 10000
	for i := 5; i <= 10; i++ {
		s = m.update(t0.Add(time.Duration(i)*time.Second), time.Duration(i)*time.Second, rep(int64(40+30*(i-4)), int64(400+300*(i-4))))
	}
	if s.BytesPerSec != 300 || s.RowsPerSec != 30 || s.ETA != 26*time.Second {
		t.Fatalf("after 10s: %+v", s)
	}
	s = m.update(t0.Add(11*time.Second), 11*time.Second, rep(1000, 12000))
	if s.Fraction != 1 || s.ETA != 0 {
		t.Fatalf("when all is read: %+v", s)
	}
	// Unknown input: no fraction, no ETA; the rate is the average at first.
	m = meter{}
	s = m.update(t0, 2*time.Second, rep(50, 0))
	if s.Fraction != -1 || s.ETA != -1 || s.RowsPerSec != 25 {
		t.Fatalf("unknown input: %+v", s)
	}
	// Rows known (count-bounded generators).
	m = meter{input: Input{Rows: 100}}
	m.update(t0, 0, rep(0, 0))
	s = m.update(t0.Add(time.Second), time.Second, rep(25, 0))
	if s.Fraction != 0.25 || s.ETA != 3*time.Second {
		t.Fatalf("rows: %+v", s)
	}
}

// lines collects log output and lets the test wait for it.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits (for a bounded time) until the output holds n matches.
func waitFor(t *testing.T, out fmt.Stringer, text string, n int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := out.String()
		if strings.Count(s, text) >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d × %q did not appear:\n%s", n, text, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLogLinesEveryInterval(t *testing.T) {
	mock := clock.NewMock()
	run := newFakeRun()
	var out lines
	logger := slog.New(slog.NewTextHandler(&out, nil))
	d := Start(run, Options{Mode: Log, Logger: logger, Clock: mock, Input: Input{Bytes: 4096}})
	// Before the first interval: nothing.
	mock.Add(4 * time.Second)
	run.set(100, 1024)
	mock.Add(1 * time.Second)
	s := waitFor(t, &out, "msg=progress", 1)
	for _, w := range []string{"elapsed=5s", "rows_read=100", `bytes_read="1.0 KiB"`, `input="4.0 KiB"`, "done=25%", "rows_per_s=20",
		"eta=15s", `stages="load:out=100 big:in=100,out=50,rejected=1 write:in=50"`} {
		if !strings.Contains(s, w) {
			t.Errorf("log line lacks %s:\n%s", w, s)
		}
	}
	run.set(400, 4096)
	mock.Add(5 * time.Second)
	s = waitFor(t, &out, "msg=progress", 2)
	if !strings.Contains(s, "done=100%") || !strings.Contains(s, "eta=0s") {
		t.Errorf("second line:\n%s", s)
	}
	d.Stop()
	d.Stop()
	mock.Add(time.Minute)
	if n := strings.Count(out.String(), "msg=progress"); n != 2 {
		t.Fatalf("%d lines after Stop, want 2:\n%s", n, out.String())
	}
}

func TestOffShowsNothing(t *testing.T) {
	mock := clock.NewMock()
	var out lines
	d := Start(newFakeRun(), Options{Mode: Off, Out: &out, Logger: slog.New(slog.NewTextHandler(&out, nil)), Clock: mock})
	mock.Add(time.Minute)
	d.Stop()
	if out.String() != "" {
		t.Fatalf("output %q", out.String())
	}
}

func TestBarsOnATerminal(t *testing.T) {
	mock := clock.NewMock()
	run := newFakeRun()
	var out lines
	logw := NewWriter(&out)
	d := Start(run, Options{Mode: Bar, Out: &out, Clock: mock, Input: Input{Bytes: 4096}, Width: 100, Log: logw})
	run.set(100, 1024)
	mock.Add(time.Second)
	s := waitFor(t, &out, "queued 3/8", 1)
	for _, w := range []string{"read 1.0 KiB / 4.0 KiB", "[=", " 25%", "100 rows", "ETA 3s",
		"load   csv.read      out 100", "big    filter.apply  in 100  out 50  rejected 1", "write  json.write    in 50"} {
		if !strings.Contains(s, w) {
			t.Errorf("bars lack %q:\n%s", w, s)
		}
	}
	// A log line written meanwhile is printed above the bars, whole.
	fmt.Fprintln(logw, "level=WARN msg=\"a row was rejected\"")
	run.set(400, 4096)
	mock.Add(200 * time.Millisecond)
	waitFor(t, &out, "read 4.0 KiB / 4.0 KiB", 1)
	d.Stop()
	s = out.String()
	if !strings.Contains(s, "level=WARN msg=\"a row was rejected\"\n") {
		t.Errorf("log line lost:\n%q", s)
	}
	if !strings.Contains(s, "100%") {
		t.Errorf("final bar lacks 100%%:\n%s", s)
	}
	// After Stop, logs go straight to the writer again.
	fmt.Fprintln(logw, "after")
	if !strings.HasSuffix(out.String(), "after\n") {
		t.Errorf("log after Stop: %q", out.String())
	}
}

func TestBarsWithoutAKnownSize(t *testing.T) {
	mock := clock.NewMock()
	run := newFakeRun()
	var out lines
	d := Start(run, Options{Mode: Bar, Out: &out, Clock: mock, Width: 100})
	run.set(20000, 0)
	mock.Add(2 * time.Second)
	s := waitFor(t, &out, "read 20.0k rows", 1)
	if !strings.Contains(s, "10.0k rows/s") || strings.Contains(s, "ETA") || strings.Contains(s, "%") {
		t.Errorf("bar:\n%s", s)
	}
	d.Stop()
}

func TestInputOf(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := write("a.csv", 300), write("b.csv", 700)
	write("c.csv.gz", 50)
	graph := func(stages string) *flow.Graph {
		t.Helper()
		f, err := flow.Parse("p.toml", []byte(stages+"\n[[stages]]\nid = \"out\"\nfunction = \"discard.write\"\ninputs = [\"s1\"]\n"))
		if err != nil {
			t.Fatal(err)
		}
		g, err := flow.Validate(f, catalog.Registry())
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	src := func(id, fn, cfg string) string {
		return fmt.Sprintf("[[stages]]\nid = %q\nfunction = %q\n[stages.config]\n%s\n", id, fn, cfg)
	}
	cases := []struct {
		stages string
		want   Input
	}{
		{src("s1", "csv.read", fmt.Sprintf("path = %q", filepath.Join(dir, "*.csv"))), Input{Bytes: 1000}},
		{src("s1", "csv.read", fmt.Sprintf("path = %q", a)) + src("s2", "json.read", fmt.Sprintf("path = %q", b)), Input{Bytes: 1000}},
		{src("s1", "csv.read", fmt.Sprintf("path = %q", filepath.Join(dir, "*.gz"))), Input{}},
		{src("s1", "csv.read", fmt.Sprintf("path = %q", filepath.Join(dir, "missing.csv"))), Input{}},
		{src("s1", "generate", "count = 500") + src("s2", "generate", "count = 250"), Input{Rows: 750}},
		{src("s1", "generate", "count = 500") + src("s2", "csv.read", fmt.Sprintf("path = %q", a)), Input{}},
		{src("s1", "stdin.read", `format = "jsonl"`), Input{}},
	}
	for i, c := range cases {
		if got := InputOf(graph(c.stages)); got != c.want {
			t.Errorf("case %d: %+v, want %+v", i, got, c.want)
		}
	}
}

func TestFormats(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := Bytes(in); got != want {
			t.Errorf("Bytes(%d) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[float64]string{950: "950", 12345: "12.3k", 4.56e6: "4.56M", 7e9: "7.00G"} {
		if got := Count(in); got != want {
			t.Errorf("Count(%v) = %s, want %s", in, got, want)
		}
	}
}
