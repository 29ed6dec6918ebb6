package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var metricsClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := metricsClient.Get(url)
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

// sample finds the value of one sample line (name and labels exactly as
// exposed, e.g. `conveyor_stage_rows_in_total{function="window.apply",stage="w"}`).
func sample(text, series string) (float64, bool) {
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// lockedBuffer collects stderr while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var servingRE = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// `conveyor stream --metrics-addr 127.0.0.1:0` on a live pipeline (stdin
// kept open): the bound address is logged, /metrics shows the rows as they
// flow with stage and function labels (the late row, the dead-letter
// record, the window stage's watermark), /healthz and /readyz answer 200,
// and SIGINT drains the stream with exit status 0.
func TestStreamServesMetrics(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "live.toml"), windowPipeline("stdin.stream"))
	cmd := exec.Command(binary, "stream", "--log-level", "info", "--metrics-addr", "127.0.0.1:0", "live.toml")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var stderr lockedBuffer
	addrCh := make(chan string, 1)
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			stderr.mu.Lock()
			stderr.buf.WriteString(sc.Text() + "\n")
			stderr.mu.Unlock()
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addrCh <- m[1]
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case <-time.After(20 * time.Second):
		t.Fatalf("no \"serving metrics\" log line:\n%s", stderr.String())
	}
	if strings.HasSuffix(addr, ":0") || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("bound address %q", addr)
	}
	base := "http://" + addr

	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	// All seven rows, the sixth one late: the first three windows close.
	if _, err := io.WriteString(stdin, windowRows); err != nil {
		t.Fatal(err)
	}
	const (
		inOut   = `conveyor_stage_rows_out_total{function="stdin.stream",stage="in"}`
		wIn     = `conveyor_stage_rows_in_total{function="window.apply",stage="w"}`
		wLate   = `conveyor_stage_late_rows_total{function="window.apply",stage="w"}`
		wWM     = `conveyor_stage_watermark_seconds{function="window.apply",stage="w"}`
		wLag    = `conveyor_stage_watermark_lag_seconds{function="window.apply",stage="w"}`
		outIn   = `conveyor_stage_rows_in_total{function="stdout.stream",stage="out"}`
		outCap  = `conveyor_stage_input_capacity_batches{function="stdout.stream",stage="out"}`
		dead    = `conveyor_dead_letter_records_total`
		ready   = `conveyor_pipeline_ready`
		info    = `conveyor_pipeline_info{pipeline="live_windows"}`
		windows = 3
	)
	var text string
	deadline := time.Now().Add(20 * time.Second)
	for {
		var code int
		code, text = httpGet(t, base+"/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d\n%s", code, text)
		}
		if v, _ := sample(text, outIn); v == windows {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the closed windows never reached the sink:\n%s\n%s", text, stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := map[string]float64{inOut: 7, wIn: 7, wLate: 1, dead: 1, ready: 1, info: 1, outCap: 1024}
	for series, v := range want {
		got, ok := sample(text, series)
		if !ok {
			t.Errorf("no sample %s", series)
		} else if series != outCap && got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		} else if series == outCap && got <= 0 {
			t.Errorf("%s = %v", series, got)
		}
	}
	// The window stage's watermark is the latest event time less the delay.
	wm := time.Date(2024, 5, 1, 10, 2, 35, 0, time.UTC)
	if got, ok := sample(text, wWM); !ok || got != float64(wm.Unix()) {
		t.Errorf("%s = %v (present %v), want %d", wWM, got, ok, wm.Unix())
	}
	if lag, ok := sample(text, wLag); !ok || lag < time.Since(wm).Seconds()-3600 {
		t.Errorf("%s = %v", wLag, lag)
	}
	for _, name := range []string{"go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(text, "\n"+name) {
			t.Errorf("no %s(Go/process collectors)", name)
		}
	}
	if code, body := httpGet(t, base+"/readyz"); code != http.StatusOK || body != "ready: running\n" {
		t.Errorf("/readyz while streaming: %d %q", code, body)
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-stderrDone
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v\n%s", err, stderr.String())
	}
	stdin.Close()
	if stdout.String() != windowOutput {
		t.Errorf("windows:\n%s\nwant:\n%s", stdout.String(), windowOutput)
	}
	// The server is gone with the process.
	if resp, err := metricsClient.Get(base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("the metrics server still answers after exit")
	}
}

// An address already in use fails the command (exit 1) before the
// pipeline runs, naming the address.
func TestStreamMetricsAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "live.toml"), windowPipeline("stdin.stream"))
	r := conveyor(t, dir, strings.NewReader(windowRows), "stream", "--log-level", "error", "--metrics-addr", ln.Addr().String(), "live.toml")
	if r.code != 1 || !strings.Contains(r.stderr, "metrics server") || !strings.Contains(r.stderr, ln.Addr().String()) {
		t.Errorf("exit %d\n%s", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("the pipeline ran: %q", r.stdout)
	}
}
