package httpfetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx/httpxtest"
	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type runResult struct {
	out    string // NDJSON of the main output
	errors []map[string]any
	log    string
	err    error
}

// run runs http.fetch on the NDJSON input (one batch per "---"-separated
// part) with the TOML config, on a checked allocator.
func run(t *testing.T, config, input string, strategy flow.Strategy, clk clock.Clock) runResult {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	raw := map[string]any{}
	if _, err := toml.Decode(config, &raw); err != nil {
		t.Fatal(err)
	}
	var ins []arrow.RecordBatch
	for _, part := range strings.Split(input, "---\n") {
		b, err := batch.FromNDJSON(mem, part, nil)
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, b)
	}
	var logBuf bytes.Buffer
	var logMu sync.Mutex
	env := flow.BuildEnv{StageID: "enrich", Alloc: mem, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(lockedWriter{&logBuf, &logMu}, nil))}
	res, err := flow.RunIsolated(context.Background(), registered(), raw, env, strategy, ins)
	logMu.Lock()
	r := runResult{err: err, log: logBuf.String()}
	logMu.Unlock()
	if err != nil {
		return r
	}
	defer res.Release()
	r.out = batch.ToNDJSON(res.Output...)
	for _, b := range res.Ports[flow.PortErrors] {
		r.errors = append(r.errors, batch.Rows(b)...)
	}
	return r
}

// registered is the spec as the registry holds it (with on_error).
func registered() *flow.Spec {
	r := flow.NewRegistry()
	Register(r)
	s, _ := r.Lookup(name)
	return s
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestSpecExamples(t *testing.T) {
	srv := httpxtest.Start()
	defer srv.Close()
	spec := registered()
	for _, ex := range spec.Examples {
		ex.Config = srv.Rewrite(ex.Config)
		t.Run(ex.Title, func(t *testing.T) { spectest.Run(t, spec, ex) })
	}
}

func TestTemplatesPerRow(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]any{
			"m": r.Method, "p": r.URL.EscapedPath(), "q": r.URL.RawQuery, "h": r.Header.Get("X-Key"),
			"ct": r.Header.Get("Content-Type"), "b": string(body),
		})
	}))
	defer srv.Close()
	config := fmt.Sprintf(`url = "%s/items/{{ name }}?q={{name}}"
method = "POST"
headers = { X-Key = "k-{{id}}" }
body = '{"id": {{id}}, "name": "{{ name }}"}'
result_field = "r"
status_field = "s"
`, srv.URL)
	r := run(t, config, `{"id":1,"name":"a b"}`+"\n"+`{"id":2,"name":"x/\"y\""}`+"\n", "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := `{"id":1,"name":"a b","r":{"b":"{\"id\": 1, \"name\": \"a b\"}","ct":"application/json","h":"k-1","m":"POST","p":"/items/a%20b","q":"q=a+b"},"s":200}
{"id":2,"name":"x/\"y\"","r":{"b":"{\"id\": 2, \"name\": \"x/\\\"y\\\"\"}","ct":"application/json","h":"k-2","m":"POST","p":"/items/x%2F%22y%22","q":"q=x%2F%22y%22"},"s":200}
`
	if r.out != want {
		t.Fatalf("output:\n%s\nwant:\n%s", r.out, want)
	}
}

func TestResultForms(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pretty":
			io.WriteString(w, "{\n  \"a\": [1, 2]\n}\n")
		case "/text":
			io.WriteString(w, "hello\nworld")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	r := run(t, fmt.Sprintf(`url = "%s/{{p}}"`, srv.URL)+"\nstatus_field = \"status\"\n",
		`{"p":"pretty"}`+"\n"+`{"p":"text"}`+"\n"+`{"p":"empty"}`+"\n", "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := `{"p":"pretty","response":{"a":[1,2]},"status":200}
{"p":"text","response":"hello\nworld","status":200}
{"p":"empty","response":null,"status":204}
`
	if r.out != want {
		t.Fatalf("output:\n%s\nwant:\n%s", r.out, want)
	}
}

// gate holds requests until `size` are in flight, then answers them in
// reverse arrival order, one at a time: completions come back out of
// order, and a sequential client would never fill a wave.
type gate struct {
	size      int
	mu        sync.Mutex
	wave      []*waiter
	inflight  int
	maxFlight int
	timedOut  atomic.Bool
}

type waiter struct {
	release, done chan struct{}
}

func (g *gate) handler(w http.ResponseWriter, r *http.Request) {
	me := &waiter{release: make(chan struct{}), done: make(chan struct{})}
	g.mu.Lock()
	g.inflight++
	g.maxFlight = max(g.maxFlight, g.inflight)
	g.wave = append(g.wave, me)
	if len(g.wave) == g.size {
		wave := g.wave
		g.wave = nil
		go func() {
			for i := len(wave) - 1; i >= 0; i-- {
				close(wave[i].release)
				<-wave[i].done
			}
		}()
	}
	g.mu.Unlock()
	select {
	case <-me.release:
	case <-time.After(10 * time.Second): // a safety net against a hang, not a timing assertion
		g.timedOut.Store(true)
	}
	io.WriteString(w, `{"id":`+strings.TrimPrefix(r.URL.Path, "/")+`}`)
	g.mu.Lock()
	g.inflight--
	g.mu.Unlock()
	close(me.done)
}

func TestConcurrencyOverlapsAndKeepsOrder(t *testing.T) {
	const conc, rows = 8, 64
	g := &gate{size: conc}
	srv := httptest.NewServer(http.HandlerFunc(g.handler))
	defer srv.Close()
	var in, want strings.Builder
	for i := range rows {
		fmt.Fprintf(&in, "{\"id\":%d}\n", i)
		fmt.Fprintf(&want, "{\"id\":%d,\"response\":{\"id\":%d}}\n", i, i)
	}
	r := run(t, fmt.Sprintf("url = \"%s/{{id}}\"\nconcurrency = %d\n", srv.URL, conc), in.String(), "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if g.timedOut.Load() {
		t.Fatalf("requests did not overlap: at most %d in flight", g.maxFlight)
	}
	if g.maxFlight != conc {
		t.Fatalf("max in flight %d, want exactly concurrency = %d", g.maxFlight, conc)
	}
	if r.out != want.String() {
		t.Fatalf("output order not preserved:\n%s", r.out)
	}
}

func TestCacheHitsCountedAndLogged(t *testing.T) {
	var hits sync.Map
	var total atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total.Add(1)
		n, _ := hits.LoadOrStore(r.URL.Path, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		io.WriteString(w, `"`+strings.TrimPrefix(r.URL.Path, "/u/")+`"`)
	}))
	defer srv.Close()
	// 10 rows, 3 distinct keys, over two input batches; the concurrent
	// duplicates of a key in flight wait for its answer.
	in := "{\"k\":1}\n{\"k\":2}\n{\"k\":1}\n{\"k\":1}\n{\"k\":3}\n---\n{\"k\":2}\n{\"k\":3}\n{\"k\":1}\n{\"k\":1}\n{\"k\":2}\n"
	r := run(t, fmt.Sprintf("url = \"%s/u/{{k}}\"\nconcurrency = 4\ncache_size = 100\n", srv.URL), in, "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if total.Load() != 3 {
		t.Fatalf("%d requests for 3 distinct keys", total.Load())
	}
	if !strings.Contains(r.log, "cache_hits=7") || !strings.Contains(r.log, "cache_misses=3") || !strings.Contains(r.log, "requests=3") {
		t.Fatalf("log lacks the cache counts: %s", r.log)
	}
	if !strings.Contains(r.out, `{"k":3,"response":"3"}`) || strings.Count(r.out, "\n") != 10 {
		t.Fatalf("output:\n%s", r.out)
	}

	// Without a cache every row costs a request.
	total.Store(0)
	r = run(t, fmt.Sprintf("url = \"%s/u/{{k}}\"\n", srv.URL), in, "", nil)
	if r.err != nil || total.Load() != 10 || strings.Contains(r.log, "cache_hits") {
		t.Fatalf("%v, %d requests, log %s", r.err, total.Load(), r.log)
	}
}

func TestCacheTTLAndEviction(t *testing.T) {
	mock := clock.NewMock()
	c := newCache(2, time.Minute, mock)
	calls := 0
	get := func(k string) bool {
		_, hit := c.get(context.Background(), k, func() answer { calls++; return answer{status: 200, body: []byte(k)} })
		return hit
	}
	if get("a") || !get("a") {
		t.Fatal("second get of a must hit")
	}
	mock.Add(time.Minute)
	if get("a") {
		t.Fatal("a expired after the TTL")
	}
	get("b")
	get("c") // evicts a, the least recently used
	if !get("b") || get("a") {
		t.Fatal("LRU eviction")
	}
	// Failures are not kept.
	_, _ = c.get(context.Background(), "bad", func() answer { return answer{err: errors.New("boom")} })
	if _, hit := c.get(context.Background(), "bad", func() answer { return answer{status: 200} }); hit {
		t.Fatal("a failure was cached")
	}
	if c.hits.Load() != 2 || calls != 5 {
		t.Fatalf("hits %d calls %d", c.hits.Load(), calls)
	}
}

// pump advances the mock clock until stop is closed: the retry waits run
// on it, so the run ends once the clock has passed them.
func pump(mock *clock.Mock, stop chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
			mock.Add(100 * time.Millisecond) // yields a millisecond of real time
		}
	}
}

func TestRetryAfterThenSuccess(t *testing.T) {
	mock := clock.NewMock()
	var mu sync.Mutex
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, mock.Now())
		n := len(at)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	stop := make(chan struct{})
	go pump(mock, stop)
	r := run(t, fmt.Sprintf("url = \"%s/x/{{id}}\"\n", srv.URL), "{\"id\":1}\n", "", mock)
	close(stop)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.out != "{\"id\":1,\"response\":{\"ok\":true}}\n" {
		t.Fatalf("output %s", r.out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(at) != 2 || at[1].Sub(at[0]) < 3*time.Second {
		t.Fatalf("requests at %v: the retry must wait the 3 s of Retry-After (mock clock)", at)
	}
	if !strings.Contains(r.log, "retries=1") || !strings.Contains(r.log, "status=429") {
		t.Fatalf("log %s", r.log)
	}
}

func TestFailuresRejectedWithStatus(t *testing.T) {
	var fivexx atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/users/9":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no user 9"}`)
		case "/users/5":
			fivexx.Add(1)
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "upstream down")
		default:
			io.WriteString(w, `{"user":`+strings.TrimPrefix(r.URL.Path, "/users/")+`}`)
		}
	}))
	defer srv.Close()
	config := fmt.Sprintf("url = \"%s/users/{{id}}?api_key=sekrit\"\nretries = 2\nbackoff = \"1ms\"\nbackoff_max = \"2ms\"\n", srv.URL)
	in := "{\"id\":1}\n{\"id\":9}\n{\"id\":null}\n{\"id\":5}\n{\"id\":2}\n"

	r := run(t, config+"on_error = \"continue\"\n", in, "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.out != "{\"id\":1,\"response\":{\"user\":1}}\n{\"id\":2,\"response\":{\"user\":2}}\n" {
		t.Fatalf("output %s", r.out)
	}
	if len(r.errors) != 3 {
		t.Fatalf("rejections %v", r.errors)
	}
	wants := []struct {
		source, row string
		parts       []string
	}{
		{"input row 2", `{"id":9}`, []string{"GET", "/users/9?api_key=REDACTED", "HTTP 404 Not Found", `no user 9`}},
		{"input row 3", `{"id":null}`, []string{`url: column "id" is null`}},
		{"input row 4", `{"id":5}`, []string{"HTTP 502 Bad Gateway", "after 3 attempts", "upstream down"}},
	}
	for i, w := range wants {
		e := r.errors[i]
		msg := e["error"].(string)
		if e["source"] != w.source || e["row"] != w.row || e["stage"] != "enrich" {
			t.Errorf("rejection %d: %v", i, e)
		}
		for _, p := range w.parts {
			if !strings.Contains(msg, p) {
				t.Errorf("rejection %d: %q lacks %q", i, msg, p)
			}
		}
		if strings.Contains(msg, "sekrit") {
			t.Errorf("rejection leaks the query: %q", msg)
		}
	}
	if fivexx.Load() != 3 {
		t.Fatalf("the 502 was tried %d times, want 1 + 2 retries", fivexx.Load())
	}

	// Under "stop" the first failure stops the run, naming stage and row.
	r = run(t, config, in, "", nil)
	if r.err == nil || !errors.Is(r.err, flow.ErrRowRejected) {
		t.Fatalf("err = %v", r.err)
	}
	if msg := r.err.Error(); !strings.Contains(msg, `stage "enrich": input row 2`) || !strings.Contains(msg, "HTTP 404") {
		t.Fatalf("err = %v", msg)
	}
}

func TestBatchMode(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.Method+" "+r.Header.Get("Content-Type")+" "+string(body))
		mu.Unlock()
		var rows []map[string]any
		if err := json.Unmarshal(body, &rows); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		out := make([]any, len(rows))
		for i, row := range rows {
			out[i] = map[string]any{"double": row["n"].(float64) * 2}
		}
		if len(rows) == 1 && rows[0]["n"].(float64) == 99 {
			out = append(out, "extra") // a wrong answer
		}
		json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"items": out}})
	}))
	defer srv.Close()
	config := fmt.Sprintf("url = \"%s/score\"\nmethod = \"POST\"\nmode = \"batch\"\nbatch_size = 2\nresponse_path = \"data.items\"\nconcurrency = 1\non_error = \"continue\"\n", srv.URL)
	r := run(t, config, "{\"n\":1,\"s\":\"a\"}\n{\"n\":2,\"s\":\"b\"}\n{\"n\":3,\"s\":\"c\"}\n---\n{\"n\":99,\"s\":\"z\"}\n", "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := "{\"n\":1,\"s\":\"a\",\"response\":{\"double\":2}}\n{\"n\":2,\"s\":\"b\",\"response\":{\"double\":4}}\n{\"n\":3,\"s\":\"c\",\"response\":{\"double\":6}}\n"
	if r.out != want {
		t.Fatalf("output:\n%s\nwant:\n%s", r.out, want)
	}
	wantBodies := []string{
		`POST application/json [{"n":1,"s":"a"},{"n":2,"s":"b"}]`,
		`POST application/json [{"n":3,"s":"c"}]`,
		`POST application/json [{"n":99,"s":"z"}]`,
	}
	if !slices.Equal(bodies, wantBodies) {
		t.Fatalf("bodies %q", bodies)
	}
	if len(r.errors) != 1 || !strings.Contains(r.errors[0]["error"].(string), "2 elements for 1 rows") {
		t.Fatalf("rejections %v", r.errors)
	}
}

func TestBatchModeConfigErrors(t *testing.T) {
	for config, key := range map[string]string{
		"url = \"http://x/{{id}}\"\nmode = \"batch\"\n":                        "url",
		"url = \"http://x/\"\nresponse_path = \"a\"\n":                         "response_path",
		"url = \"http://x/\"\nresult_field = \"a\"\nstatus_field = \"a\"\n":    "status_field",
		"url = \"http://x/\"\nmode = \"batch\"\nheaders = { A = \"{{b}}\" }\n": "headers",
	} {
		raw := map[string]any{}
		if _, err := toml.Decode(config, &raw); err != nil {
			t.Fatal(err)
		}
		_, errs := flow.CheckConfig(Spec(), raw)
		if len(errs) != 1 || errs[0].Key != key {
			t.Errorf("%s: errors %v, want one on %s", config, errs, key)
		}
	}
}

func TestUnknownColumnInTemplate(t *testing.T) {
	raw := map[string]any{"url": "http://127.0.0.1:1/{{ idd }}"}
	cfg, errs := flow.CheckConfig(Spec(), raw)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	in := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	_, err := Spec().Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{in})
	var pe *flow.ParamError
	if !errors.As(err, &pe) || pe.Key != "url" || !strings.Contains(err.Error(), `did you mean "id"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestRateLimitAndBearer(t *testing.T) {
	t.Setenv("FETCH_TEST_TOKEN", "tok-9")
	mock := clock.NewMock()
	var mu sync.Mutex
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, mock.Now())
		mu.Unlock()
		io.WriteString(w, `"`+r.Header.Get("Authorization")+`"`)
	}))
	defer srv.Close()
	stop := make(chan struct{})
	go pump(mock, stop)
	r := run(t, fmt.Sprintf("url = \"%s/{{id}}\"\nconcurrency = 4\nrate_limit = 2\nburst = 1\nbearer_token_env = \"FETCH_TEST_TOKEN\"\n", srv.URL),
		"{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n", "", mock)
	close(stop)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if strings.Count(r.out, `"response":"Bearer tok-9"`) != 4 {
		t.Fatalf("output %s", r.out)
	}
	mu.Lock()
	defer mu.Unlock()
	// Burst 1 at 2/s: the fourth request may not start before 1.5 s.
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	if len(at) != 4 || at[3].Sub(time.Unix(0, 0)) < 1500*time.Millisecond {
		t.Fatalf("requests at %v (mock time): faster than rate_limit", at)
	}
	if !strings.Contains(r.log, "rate_limited=3") {
		t.Fatalf("log %s", r.log)
	}
}
