package httpconn

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestServeExamples(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	spec := ServeSpec()
	if len(spec.Examples) == 0 {
		t.Fatal("http.serve has no example")
	}
	for _, ex := range spec.Examples {
		t.Run(ex.Title, func(t *testing.T) { spectest.Run(t, ServeExampleSpec(ex.Input), ex) })
	}
}

func TestServeUnbounded(t *testing.T) {
	s := ServeSpec()
	if !s.Unbounded(flow.Config{"max_requests": int64(0)}) || s.Unbounded(flow.Config{"max_requests": int64(3)}) {
		t.Error("http.serve is unbounded unless max_requests is set")
	}
}

func TestServeConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		raw map[string]any
		key string
	}{
		{map[string]any{"address": "localhost"}, "address"},
		{map[string]any{"address": "127.0.0.1:99999"}, "address"},
		{map[string]any{"path": "ingest"}, "path"},
		{map[string]any{"format": "xml"}, "format"},
		{map[string]any{"records_path": "data..items"}, "records_path"},
		{map[string]any{"schema": map[string]any{"x": "complex"}}, "schema"},
		{map[string]any{"max_body_bytes": int64(0)}, "max_body_bytes"},
		{map[string]any{"max_body_byte": int64(10)}, "max_body_byte"},
	} {
		_, errs := flow.CheckConfig(ServeSpec(), tc.raw)
		if len(errs) == 0 || errs[0].Key != tc.key {
			t.Errorf("%v: errors %v, want one on key %q", tc.raw, errs, tc.key)
		}
	}
	t.Setenv("CONVEYOR_TEST_EMPTY_TOKEN", "")
	cfg, errs := flow.CheckConfig(ServeSpec(), map[string]any{"token_env": "CONVEYOR_TEST_EMPTY_TOKEN"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if _, err := ServeSpec().New(cfg, flow.BuildEnv{}); err == nil || !strings.Contains(err.Error(), "CONVEYOR_TEST_EMPTY_TOKEN is not set") {
		t.Errorf("unset token variable: %v", err)
	}
}

// collector is a sink keeping every row it gets as NDJSON lines; with a
// gate, each Write first waits until the gate is opened (a blocked sink).
type collector struct {
	mu   sync.Mutex
	rows []string
	gate chan struct{}
}

func (c *collector) Write(ctx context.Context, _ *flow.Stage, b arrow.RecordBatch) error {
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	text := batch.ToNDJSON(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows = append(c.rows, strings.Split(strings.TrimSuffix(text, "\n"), "\n")...)
	return nil
}
func (c *collector) Close(context.Context, *flow.Stage) error { return nil }
func (c *collector) Abort()                                   {}

func (c *collector) snapshot() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.rows...)
}

// rig is a running pipeline http.serve → collector.
type rig struct {
	t      *testing.T
	url    string
	c      *collector
	r      *flow.Runner
	done   chan error
	mem    *memory.CheckedAllocator
	client *http.Client
}

// startServe runs http.serve (listening on 127.0.0.1:0, with extra config
// lines) into a collector, with the given channel capacity.
func startServe(t *testing.T, extra string, capacity int, c *collector) *rig {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	urls := make(chan string, 1)
	reg := flow.NewRegistry()
	reg.Register(serveSpec(&serveHooks{listen: "127.0.0.1:0", bound: func(_ context.Context, url string) error {
		urls <- url
		return nil
	}}))
	reg.Register(&flow.Spec{Name: "test.collect", Kind: flow.KindSink, Summary: "collects",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return c, nil }})
	src := fmt.Sprintf(`[pipeline]
name = "serve"
[global]
channel_capacity = %d
[error_handling]
strategy = "continue"
[[stages]]
id = "in"
function = "http.serve"
[stages.config]
%s
[[stages]]
id = "out"
function = "test.collect"
inputs = ["in"]
`, capacity, extra)
	f, err := flow.Parse("serve.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	rg := &rig{t: t, c: c, r: r, done: make(chan error, 1), mem: mem, client: &http.Client{Transport: &http.Transport{}}}
	go func() { rg.done <- r.Run(context.Background()) }()
	select {
	case rg.url = <-urls:
	case err := <-rg.done:
		t.Fatalf("run ended before listening: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("http.serve did not listen")
	}
	return rg
}

// stop drains the pipeline, waits for the run and checks the allocator.
func (rg *rig) stop() []string {
	rg.t.Helper()
	rg.r.Drain()
	return rg.wait()
}

func (rg *rig) wait() []string {
	rg.t.Helper()
	select {
	case err := <-rg.done:
		if err != nil {
			rg.t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		rg.t.Fatal("the run did not end")
	}
	rg.client.CloseIdleConnections()
	rg.mem.AssertSize(rg.t, 0)
	return rg.c.snapshot()
}

type answer struct {
	code   int
	header http.Header
	body   map[string]any
	text   string
}

func (rg *rig) post(body string, header ...string) answer {
	return rg.do(http.MethodPost, rg.url, body, header...)
}

func (rg *rig) do(method, url, body string, header ...string) answer {
	rg.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		rg.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := rg.client.Do(req)
	if err != nil {
		rg.t.Fatal(err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, header: resp.Header, text: string(text)}
	_ = json.Unmarshal(text, &a.body)
	return a
}

func (a answer) want(t *testing.T, code int, contains ...string) {
	t.Helper()
	if a.code != code {
		t.Errorf("status %d, want %d (body %s)", a.code, code, a.text)
	}
	for _, s := range contains {
		if !strings.Contains(a.text, s) {
			t.Errorf("answer %d %s lacks %q", a.code, a.text, s)
		}
	}
}

func TestServeAcceptsRows(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &collector{}
	rg := startServe(t, `format = "json"`, 4, c)
	rg.post(`[{"id": 1, "name": "ana"}, {"id": 2, "name": "bo"}]`).want(t, 202, `"accepted":2`)
	rg.post(`{"id": 3, "name": "cy"}`).want(t, 202, `"accepted":1`)
	rg.post(`{"id": 4}`+"\n"+`{"name": "dee", "id": 5}`).want(t, 202, `"accepted":2`)
	rg.post(`[]`).want(t, 202, `"accepted":0`)
	got := rg.stop()
	want := []string{`{"id":1,"name":"ana"}`, `{"id":2,"name":"bo"}`, `{"id":3,"name":"cy"}`, `{"id":4,"name":null}`, `{"id":5,"name":"dee"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rep := rg.r.Report()[0]
	if rep.RowsOut != 5 || rep.BatchesOut != 3 {
		t.Errorf("report: %d rows in %d batches, want 5 in 3", rep.RowsOut, rep.BatchesOut)
	}
}

func TestServeAuth(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Setenv("CONVEYOR_TEST_HOOK_TOKEN", "s3cret")
	c := &collector{}
	rg := startServe(t, "format = \"jsonl\"\ntoken_env = \"CONVEYOR_TEST_HOOK_TOKEN\"", 4, c)
	a := rg.post(`{"id": 1}`)
	a.want(t, 401, "bearer token")
	if a.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	rg.post(`{"id": 2}`, "Authorization", "Bearer wrong").want(t, 401)
	rg.post(`{"id": 3}`, "Authorization", "Basic s3cret").want(t, 401)
	if strings.Contains(a.text, "s3cret") {
		t.Error("the answer shows the token")
	}
	rg.post(`{"id": 4}`, "Authorization", "Bearer s3cret").want(t, 202)
	rg.post(`{"id": 5}`, "Authorization", "bearer s3cret").want(t, 202)
	if got := strings.Join(rg.stop(), ","); got != `{"id":4},{"id":5}` {
		t.Errorf("rows %s", got)
	}
}

func TestServeBadRequests(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &collector{}
	rg := startServe(t, "format = \"json\"\nmax_body_bytes = 200\nschema = {ts = \"timestamp\"}", 4, c)
	// Nothing fixed yet: a bad body fixes no schema.
	rg.post(`[{"id": 1, "ts": "2024-05-01T10:00:00Z"}, {"id": 2,]`).want(t, 400, "invalid JSON")
	rg.post(`[{"id": 1}, 7]`).want(t, 400, "record 2: not a JSON object")
	rg.post(`{"id": 1, "ts": "2024-05-01T10:00:00Z", "v": 1.5}`).want(t, 202)
	// The schema is now id int, ts timestamp, v float.
	a := rg.post(`[{"id": 2, "v": 2}, {"id": 3, "extra": true}, {"id": "x"}]`)
	a.want(t, 400, `record 2: key \"extra\" is not in the schema fixed by the first request`, `"where":"record 3","reason":"column \"id\"`, "nothing was accepted")
	if list, _ := a.body["rejected"].([]any); len(list) != 2 {
		t.Errorf("rejected list %v, want 2 entries", a.body["rejected"])
	}
	rg.post(`{"id": 4, "ts": "yesterday"}`).want(t, 400, `column \"ts\"`)
	rg.post(``).want(t, 400, "empty body")
	rg.post(`"just a string"`).want(t, 400, "not a JSON object")
	rg.post(`[`+strings.Repeat(`{"id": 5},`, 40)+`{"id": 6}]`).want(t, 413, "max_body_bytes (200 bytes)")
	// A body of unknown length over the limit (chunked): cut while read.
	req, _ := http.NewRequest(http.MethodPost, rg.url, io.MultiReader(strings.NewReader("["), strings.NewReader(strings.Repeat(`{"id":5},`, 40)+`{"id":6}]`)))
	req.ContentLength = -1
	resp, err := rg.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked body over the limit: %d", resp.StatusCode)
	}
	rg.do(http.MethodGet, rg.url, "").want(t, 405, "POST")
	rg.do(http.MethodPost, strings.TrimSuffix(rg.url, "/ingest")+"/other", `{"id": 7}`).want(t, 404)
	rg.post(`{"id": 8}`, "Content-Encoding", "gzip").want(t, 415)
	rg.post(`[{"id": 9, "v": 3}]`).want(t, 202)
	got := rg.stop()
	want := []string{`{"id":1,"ts":"2024-05-01T10:00:00Z","v":1.5}`, `{"id":9,"ts":null,"v":3}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestServeCSV(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &collector{}
	rg := startServe(t, `format = "csv"`, 4, c)
	rg.post("id,temp,city\n1,20.5,Oslo\n").want(t, 202, `"accepted":1`)
	// Columns in another order, one missing: matched by name.
	rg.post("city,id\nBergen,2\n").want(t, 202)
	rg.post("id,temp\nthree,1\n4,2\n").want(t, 400, "line 2")
	rg.post("id,temp,wind\n5,1,3\n").want(t, 400, `column \"wind\" is not in the schema`)
	rg.post("id,temp\n").want(t, 202, `"accepted":0`)
	got := rg.stop()
	want := []string{`{"id":1,"temp":20.5,"city":"Oslo"}`, `{"id":2,"temp":null,"city":"Bergen"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Concurrent clients: every accepted body arrives whole, none twice.
func TestServeConcurrentClients(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &collector{}
	rg := startServe(t, "format = \"jsonl\"\naccept_timeout = \"10s\"\nmax_in_flight = 4", 2, c)
	rg.post(`{"client": -1, "seq": -1}`).want(t, 202) // fixes the schema
	const clients, each = 8, 25
	var wg sync.WaitGroup
	codes := make(chan int, clients*each)
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := fmt.Sprintf(`{"client": %d, "seq": %d}`+"\n"+`{"client": %d, "seq": %d}`, k, 2*i, k, 2*i+1)
				resp, err := rg.client.Post(rg.url, "application/x-ndjson", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes <- resp.StatusCode
			}
		}()
	}
	wg.Wait()
	close(codes)
	accepted := 0
	for code := range codes {
		if code == 202 {
			accepted++
		} else {
			t.Errorf("status %d", code)
		}
	}
	got := rg.stop()
	if len(got) != 1+2*accepted {
		t.Fatalf("%d rows for %d accepted requests", len(got), accepted)
	}
	// Each client's rows arrive in its order, in pairs.
	last := map[float64]float64{}
	for _, line := range got[1:] {
		var row map[string]float64
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		prev, seen := last[row["client"]]
		if !seen {
			prev = -1
		}
		if row["seq"] != prev+1 {
			t.Fatalf("client %v: seq %v after %v", row["client"], row["seq"], prev)
		}
		last[row["client"]] = row["seq"]
	}
}

// A blocked sink backpressures the server: once the pipeline's channels
// are full, a request is answered 429 with Retry-After after
// accept_timeout, and what it carried never reaches the sink; every body
// answered 202 does.
func TestServeBackpressure(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &collector{gate: make(chan struct{})}
	rg := startServe(t, "format = \"jsonl\"\naccept_timeout = \"50ms\"\nretry_after = \"2s\"", 1, c)
	var accepted []string
	got429 := false
	for i := range 20 {
		body := fmt.Sprintf(`{"n": %d}`, i)
		a := rg.post(body)
		if a.code == 429 {
			got429 = true
			a.want(t, 429, "backpressured")
			if ra := a.header.Get("Retry-After"); ra != "2" {
				t.Errorf("Retry-After %q, want 2", ra)
			}
			break
		}
		a.want(t, 202)
		accepted = append(accepted, fmt.Sprintf(`{"n":%d}`, i))
	}
	if !got429 {
		t.Fatal("20 requests into a blocked pipeline of capacity 1 were all accepted")
	}
	// Source → sink with one slot: the sink holds one batch, the channel
	// one; a third handoff cannot happen.
	if len(accepted) > 3 || len(accepted) < 2 {
		t.Errorf("%d requests accepted before the first 429, want 2 or 3", len(accepted))
	}
	close(c.gate)
	// Once the sink moves again, requests are accepted again.
	rg.post(`{"n": 100}`).want(t, 202)
	accepted = append(accepted, `{"n":100}`)
	got := rg.stop()
	if strings.Join(got, ",") != strings.Join(accepted, ",") {
		t.Errorf("rows %v\nwant %v (exactly the accepted ones)", got, accepted)
	}
	rep := rg.r.Report()[0]
	if rep.RowsOut != int64(len(accepted)) {
		t.Errorf("rows_out %d, want %d: a refused handoff must not be counted", rep.RowsOut, len(accepted))
	}
}

// With max_in_flight = 1 and a request holding the slot (its body still
// being sent), another is answered 429 after accept_timeout.
func TestServeInFlightLimit(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &collector{}
	rg := startServe(t, "format = \"jsonl\"\naccept_timeout = \"50ms\"\nmax_in_flight = 1", 2, c)
	pr, pw := io.Pipe()
	slow := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, rg.url, pr)
		resp, err := rg.client.Do(req)
		if err != nil {
			slow <- answer{code: -1, text: err.Error()}
			return
		}
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- answer{code: resp.StatusCode, text: string(text)}
	}()
	if _, err := pw.Write([]byte(`{"n": 1}` + "\n")); err != nil {
		t.Fatal(err)
	}
	// The handler holds the slot once it reads the body: wait until the
	// stage has read those bytes... which only happens at the end. Poll
	// instead until a second request is refused.
	deadline := time.Now().Add(10 * time.Second)
	for {
		a := rg.post(`{"n": 2}`)
		if a.code == 429 {
			a.want(t, 429, "in flight")
			break
		}
		if a.code != 202 || time.Now().After(deadline) {
			t.Fatalf("second request: %d %s", a.code, a.text)
		}
	}
	pw.Close()
	a := <-slow
	a.want(t, 202)
	got := rg.stop()
	if len(got) == 0 || got[len(got)-1] != `{"n":1}` {
		t.Errorf("rows %v: the slow body must arrive last", got)
	}
}

// Drain: the request being handed off when the pipeline drains is
// finished (answered 202, its rows delivered); new ones are refused; the
// run then ends.
func TestServeDrainFinishesInFlight(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &collector{gate: make(chan struct{})}
	rg := startServe(t, "format = \"jsonl\"\naccept_timeout = \"30s\"", 1, c)
	// Fill the sink and the channel.
	rg.post(`{"n": 1}`).want(t, 202)
	rg.post(`{"n": 2}`).want(t, 202)
	third := make(chan answer, 1)
	go func() { third <- rg.post(`{"n": 3}`) }()
	// Wait until the stage read the third body: it is now being handed
	// off, blocked behind the full pipeline.
	waitUntil(t, func() bool { return rg.r.Report()[0].BytesRead >= int64(3*len(`{"n": 1}`)) })
	rg.r.Drain()
	// A new request is refused (503, or the listener is already closed).
	req, _ := http.NewRequest(http.MethodPost, rg.url, strings.NewReader(`{"n": 4}`))
	if resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("request during drain: %d", resp.StatusCode)
		}
	}
	select {
	case a := <-third:
		t.Fatalf("the in-flight request was answered %d before the pipeline moved", a.code)
	case err := <-rg.done:
		t.Fatalf("the run ended with a request in flight: %v", err)
	default:
	}
	close(c.gate)
	(<-third).want(t, 202)
	got := rg.wait()
	if strings.Join(got, ",") != `{"n":1},{"n":2},{"n":3}` {
		t.Errorf("rows %v", got)
	}
}

// max_requests: the run ends by itself after that many accepted bodies.
func TestServeMaxRequests(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &collector{}
	rg := startServe(t, "format = \"jsonl\"\nmax_requests = 2", 4, c)
	rg.post(`{"n": 1}`).want(t, 202)
	rg.post(`{"n": 2}`+"\n"+`{"n": 3}`).want(t, 202)
	got := rg.wait()
	if strings.Join(got, ",") != `{"n":1},{"n":2},{"n":3}` {
		t.Errorf("rows %v", got)
	}
}

func TestServeAddressInUse(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := &collector{}
	rg := startServe(t, `format = "jsonl"`, 4, c)
	addr := strings.TrimSuffix(strings.TrimPrefix(rg.url, "http://"), "/ingest")
	spec := ServeSpec()
	_, err := flow.RunIsolated(context.Background(), spec, map[string]any{"address": addr}, flow.BuildEnv{}, "")
	if err == nil || !strings.Contains(err.Error(), "listening on "+addr) {
		t.Errorf("address in use: %v", err)
	}
	rg.stop()
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
