package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// slowPipeline generates rows at a fixed rate of the real clock, so that a
// run lasts long enough (count/rate seconds) for progress to show.
func slowPipeline(count, rate int) string {
	return `[pipeline]
name = "slow"

[[stages]]
id = "gen"
function = "generate"
[stages.config]
count = ` + strconv.Itoa(count) + `
rate = ` + strconv.Itoa(rate) + `.0
columns = { n = "seq", amount = "seq % 4" }

[[stages]]
id = "some"
function = "filter.apply"
inputs = ["gen"]
[stages.config]
expr = "amount >= 2"

[[stages]]
id = "out"
function = "discard.write"
inputs = ["some"]
`
}

var progressLine = regexp.MustCompile(`(?m)^time=\S+ level=INFO msg=progress elapsed=\S+ rows_read=(\d+) input_rows=600 done=\d+% rows_per_s=\d+ (eta=\S+ )?stages="gen:out=\d+ some:in=\d+,out=\d+ out:in=\d+,out=\d+"$`)

func TestRunLogsProgressWhenNotATerminal(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "slow.toml"), slowPipeline(600, 1000))
	r := conveyor(t, dir, nil, "run", "--progress-interval", "100ms", "slow.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	// The run lasts at least 600ms: several lines, counts that never go
	// back, then the summary table.
	m := progressLine.FindAllStringSubmatch(r.stderr, -1)
	if len(m) < 2 {
		t.Fatalf("%d progress lines, want several:\n%s", len(m), r.stderr)
	}
	last := -1
	for _, sm := range m {
		n, _ := strconv.Atoi(sm[1])
		if n < last || n > 600 {
			t.Fatalf("rows_read went %d -> %d:\n%s", last, n, r.stderr)
		}
		last = n
	}
	if i, j := strings.LastIndex(r.stderr, "msg=progress"), strings.Index(r.stderr, `pipeline "slow" finished`); j < i {
		t.Fatalf("the summary is not after the progress lines:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "\x1b[") {
		t.Fatalf("terminal escapes written to a file:\n%q", r.stderr)
	}

	// --quiet: no progress, the summary all the same.
	r = conveyor(t, dir, nil, "run", "--quiet", "--progress-interval", "100ms", "slow.toml")
	if r.code != 0 || strings.Contains(r.stderr, "msg=progress") || !strings.Contains(r.stderr, `pipeline "slow" finished`) ||
		!strings.Contains(r.stderr, "rows/s") {
		t.Fatalf("--quiet: exit %d\n%s", r.code, r.stderr)
	}
}

func TestRunShowsProgressBarsOnATerminal(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "slow.toml"), slowPipeline(1500, 1000))
	writeFile(t, filepath.Join(dir, "fast.toml"), slowPipeline(1500, 20000))
	var stdout bytes.Buffer
	p := startPTY(t, dir, &stdout, "run", "slow.toml")
	// While it runs: the bar with the rows read against the count, the
	// rate, the ETA, and each stage's counts.
	p.waitFor("rows  [")
	p.waitFor("rows/s  ETA ")
	p.waitFor("gen   generate")
	p.waitFor("some  filter.apply   in ")
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.screen())
	}
	<-p.done
	screen := p.screen()
	for _, w := range []string{"read 1500 / 1500 rows", "100%", `pipeline "slow" finished`, "throughput:"} {
		if !strings.Contains(screen, w) {
			t.Errorf("the terminal lacks %q:\n%s", w, screen)
		}
	}
	if strings.Contains(screen, "msg=progress") {
		t.Errorf("log lines on a terminal:\n%s", screen)
	}
	if i, j := strings.LastIndex(screen, "100%"), strings.Index(screen, `pipeline "slow" finished`); j < i {
		t.Errorf("the summary is not after the bars:\n%s", screen)
	}

	// --quiet on a terminal: the summary only.
	stdout.Reset()
	p = startPTY(t, dir, &stdout, "run", "-q", "fast.toml")
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, p.screen())
	}
	<-p.done
	if s := p.screen(); strings.Contains(s, "rows/s  ETA") || !strings.Contains(s, `pipeline "slow" finished`) {
		t.Errorf("--quiet on a terminal:\n%s", s)
	}
}
