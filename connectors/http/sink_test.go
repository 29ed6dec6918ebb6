package httpconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
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

func sinkRegistry() *flow.Registry {
	r := flow.NewRegistry()
	RegisterSinks(r)
	return r
}

// recorder is a server keeping every request it gets as
// "METHOD URI [Content-Type] body" and answering with status(req).
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	got    []string
	header []http.Header
}

func newRecorder(status func(r *http.Request, body []byte) (int, string)) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.got = append(rec.got, fmt.Sprintf("%s %s [%s] %s", r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), body))
		rec.header = append(rec.header, r.Header.Clone())
		rec.mu.Unlock()
		code, text := http.StatusOK, ""
		if status != nil {
			code, text = status(r, body)
		}
		w.WriteHeader(code)
		io.WriteString(w, text)
	}))
	return rec
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

type sinkRun struct {
	errors []map[string]any
	log    string
	err    error
}

// runSink writes the NDJSON input (one batch per "---"-separated part)
// with the named sink on a checked allocator.
func runSink(t *testing.T, stage, config, input string, strategy flow.Strategy, clk clock.Clock) sinkRun {
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
	spec, ok := sinkRegistry().Lookup(stage)
	if !ok {
		t.Fatalf("no %s", stage)
	}
	var logBuf bytes.Buffer
	env := flow.BuildEnv{StageID: "out", Alloc: mem, Clock: clk, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}
	res, err := flow.RunIsolated(context.Background(), spec, raw, env, strategy, ins)
	r := sinkRun{err: err, log: logBuf.String()}
	if err != nil {
		return r
	}
	defer res.Release()
	for _, b := range res.Ports[flow.PortErrors] {
		r.errors = append(r.errors, batch.Rows(b)...)
	}
	return r
}

func TestSinkSpecExamples(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, spec := range sinkRegistry().Specs() {
		if len(spec.Examples) == 0 {
			t.Errorf("%s has no example", spec.Name)
		}
		for _, ex := range spec.Examples {
			t.Run(spec.Name+"/"+ex.Title, func(t *testing.T) {
				srv := httpxtest.Start()
				defer srv.Close()
				ex.Config = srv.Rewrite(ex.Config)
				spectest.Run(t, spec, ex)
				if got := srv.Received(); got != ex.Output {
					t.Errorf("server received:\n%s\nwant:\n%s", got, ex.Output)
				}
			})
		}
	}
}

func TestSinkPerRowTemplates(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Setenv("SINK_TEST_TOKEN", "tok-1")
	srv := newRecorder(nil)
	defer srv.Close()
	config := fmt.Sprintf("url = \"%s/users/{{ id }}/tags?t={{tag}}\"\nheaders = { X-Tenant = \"t-{{ tenant }}\" }\nbearer_token_env = \"SINK_TEST_TOKEN\"\n", srv.URL)
	r := runSink(t, "http.put", config, `{"id":1,"tag":"a&b","tenant":"x"}`+"\n"+`{"id":2,"tag":"c d","tenant":"y"}`+"\n", "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := []string{
		`PUT /users/1/tags?t=a%26b [application/json] {"id":1,"tag":"a&b","tenant":"x"}`,
		`PUT /users/2/tags?t=c+d [application/json] {"id":2,"tag":"c d","tenant":"y"}`,
	}
	if got := srv.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if srv.header[0].Get("X-Tenant") != "t-x" || srv.header[1].Get("X-Tenant") != "t-y" || srv.header[0].Get("Authorization") != "Bearer tok-1" {
		t.Fatalf("headers %v", srv.header)
	}
	if !strings.Contains(r.log, "http.put finished") || !strings.Contains(r.log, "rows=2") || !strings.Contains(r.log, "requests=2") {
		t.Fatalf("log %s", r.log)
	}
}

func TestSinkDeleteHasNoBody(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newRecorder(nil)
	defer srv.Close()
	r := runSink(t, "http.delete", fmt.Sprintf("url = \"%s/items/{{id}}\"\n", srv.URL), "{\"id\":\"a/b\"}\n", "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := srv.requests(); len(got) != 1 || got[0] != "DELETE /items/a%2Fb [] " {
		t.Fatalf("requests %q", got)
	}
}

func TestSinkBatchBodies(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newRecorder(nil)
	defer srv.Close()
	in := "{\"id\":1,\"s\":\"a\"}\n{\"id\":2,\"s\":null}\n{\"id\":3,\"s\":\"c\"}\n---\n{\"id\":4,\"s\":\"d\"}\n"
	for _, tc := range []struct {
		config string
		want   []string
	}{
		{"mode = \"batch\"\nbatch_size = 2\n", []string{
			`POST /b [application/json] [{"id":1,"s":"a"},{"id":2,"s":null}]`,
			`POST /b [application/json] [{"id":3,"s":"c"}]`,
			`POST /b [application/json] [{"id":4,"s":"d"}]`,
		}},
		{"mode = \"batch\"\nbatch_size = 0\nbody_format = \"ndjson\"\n", []string{
			"POST /b [application/x-ndjson] {\"id\":1,\"s\":\"a\"}\n{\"id\":2,\"s\":null}\n{\"id\":3,\"s\":\"c\"}\n",
			"POST /b [application/x-ndjson] {\"id\":4,\"s\":\"d\"}\n",
		}},
		{"mode = \"batch\"\nbody = '{\"key\": {{id}}, \"label\": \"s={{s}}\"}'\nheaders = { Content-Type = \"application/vnd.x+json\" }\n", []string{
			`POST /b [application/vnd.x+json] [{"key": 1, "label": "s=a"},{"key": 2, "label": "s="},{"key": 3, "label": "s=c"}]`,
			`POST /b [application/vnd.x+json] [{"key": 4, "label": "s=d"}]`,
		}},
	} {
		srv.mu.Lock()
		srv.got = nil
		srv.mu.Unlock()
		r := runSink(t, "http.post", fmt.Sprintf("url = \"%s/b\"\n", srv.URL)+tc.config, in, "", nil)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if got := srv.requests(); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s requests:\n%s\nwant:\n%s", tc.config, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}

func TestSinkFailuresRejected(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newRecorder(func(r *http.Request, body []byte) (int, string) {
		switch {
		case strings.Contains(string(body), `"id":2`):
			return http.StatusUnprocessableEntity, `{"error":"total must be positive"}`
		case strings.Contains(string(body), `"id":3`):
			return http.StatusServiceUnavailable, "try later"
		}
		return http.StatusCreated, ""
	})
	defer srv.Close()
	config := fmt.Sprintf("url = \"%s/orders?key=abc123\"\nretries = 2\nbackoff = \"1ms\"\nbackoff_max = \"1ms\"\n", srv.URL)
	in := "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n"

	r := runSink(t, "http.post", config+"on_error = \"continue\"\n", in, "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if n := len(srv.requests()); n != 1+1+3+1 {
		t.Fatalf("%d requests, want 6 (the 503 row tried 3 times)", n)
	}
	if len(r.errors) != 2 {
		t.Fatalf("rejections %v", r.errors)
	}
	for i, want := range []struct{ source, row, parts string }{
		{"input row 2", `{"id":2}`, `POST ` + srv.URL + `/orders?key=REDACTED: HTTP 422 Unprocessable Entity: body "{\"error\":\"total must be positive\"}"`},
		{"input row 3", `{"id":3}`, `HTTP 503 Service Unavailable after 3 attempts: body "try later"`},
	} {
		e := r.errors[i]
		if e["source"] != want.source || e["row"] != want.row || !strings.Contains(e["error"].(string), want.parts) || strings.Contains(e["error"].(string), "abc123") {
			t.Errorf("rejection %d: %v\nwant error containing %s", i, e, want.parts)
		}
	}
	if !strings.Contains(r.log, "rejected=2") || !strings.Contains(r.log, "retries=2") {
		t.Fatalf("log %s", r.log)
	}

	// Stop (the default): the first failed row ends the run, named.
	r = runSink(t, "http.post", config, in, "", nil)
	if !errors.Is(r.err, flow.ErrRowRejected) || !strings.Contains(r.err.Error(), `stage "out": input row 2`) || !strings.Contains(r.err.Error(), "HTTP 422") {
		t.Fatalf("err = %v", r.err)
	}

	// Batch mode: a failed request rejects every row of its group.
	r = runSink(t, "http.post", config+"mode = \"batch\"\nbatch_size = 2\non_error = \"continue\"\n", in, "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	var rows []string
	for _, e := range r.errors {
		rows = append(rows, e["row"].(string))
	}
	sort.Strings(rows)
	if strings.Join(rows, " ") != `{"id":1} {"id":2} {"id":3} {"id":4}` {
		t.Fatalf("rejected rows %v", rows)
	}
}

func pumpClock(mock *clock.Mock, stop chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
			mock.Add(100 * time.Millisecond) // sleeps 1 ms of real time
		}
	}
}

func TestSinkRetryAfterAndTimeout(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	mock := clock.NewMock()
	var mu sync.Mutex
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, mock.Now())
		n := len(at)
		mu.Unlock()
		switch {
		case r.URL.Path == "/slow":
			io.ReadAll(r.Body)   // so that the server notices the client leaving
			<-r.Context().Done() // never answers in time
		case n == 1:
			w.Header().Set("Retry-After", "4")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	stop := make(chan struct{})
	go pumpClock(mock, stop)
	defer close(stop)

	r := runSink(t, "http.patch", fmt.Sprintf("url = \"%s/x\"\n", srv.URL), "{\"id\":1}\n", "", mock)
	if r.err != nil {
		t.Fatal(r.err)
	}
	mu.Lock()
	if len(at) != 2 || at[1].Sub(at[0]) < 4*time.Second {
		t.Fatalf("requests at %v: the retry must wait the 4 s of Retry-After", at)
	}
	mu.Unlock()

	r = runSink(t, "http.post", fmt.Sprintf("url = \"%s/slow\"\ntimeout_seconds = 2\nretries = 0\non_error = \"continue\"\n", srv.URL), "{\"id\":1}\n", "", mock)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.errors) != 1 || !strings.Contains(r.errors[0]["error"].(string), "request timed out after 2s") {
		t.Fatalf("rejections %v", r.errors)
	}
}

func TestSinkConcurrency(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := newRecorder(nil)
	defer srv.Close()
	var in strings.Builder
	for i := range 50 {
		fmt.Fprintf(&in, "{\"id\":%d}\n", i)
	}
	r := runSink(t, "http.post", fmt.Sprintf("url = \"%s/r/{{id}}\"\nconcurrency = 8\n", srv.URL), in.String(), "", nil)
	if r.err != nil {
		t.Fatal(r.err)
	}
	got := srv.requests()
	seen := map[string]bool{}
	for _, g := range got {
		seen[strings.Fields(g)[1]] = true
	}
	if len(got) != 50 || len(seen) != 50 {
		t.Fatalf("%d requests, %d distinct", len(got), len(seen))
	}
}

func TestSinkConfigErrors(t *testing.T) {
	spec, _ := sinkRegistry().Lookup("http.post")
	for config, key := range map[string]string{
		"url = \"http://x/{{id}}\"\nmode = \"batch\"\n":                        "url",
		"url = \"http://x/\"\nmode = \"batch\"\nheaders = { A = \"{{b}}\" }\n": "headers",
		"url = \"http://x/\"\nbody_format = \"xml\"\n":                         "body_format",
	} {
		raw := map[string]any{}
		if _, err := toml.Decode(config, &raw); err != nil {
			t.Fatal(err)
		}
		_, errs := flow.CheckConfig(spec, raw)
		if len(errs) != 1 || errs[0].Key != key {
			t.Errorf("%s: errors %v, want one on %s", config, errs, key)
		}
	}
	// An unknown column in a template is reported with the key, before
	// the run and at run time.
	cfg, _ := flow.CheckConfig(spec, map[string]any{"url": "http://x/", "body": `{"a": {{ nmae }}}`})
	in := arrow.NewSchema([]arrow.Field{{Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	_, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{in})
	var pe *flow.ParamError
	if !errors.As(err, &pe) || pe.Key != "body" || !strings.Contains(err.Error(), `did you mean "name"`) {
		t.Fatalf("err = %v", err)
	}
	r := runSink(t, "http.post", "url = \"http://127.0.0.1:1/{{ idd }}\"\n", "{\"id\":1}\n", "", nil)
	if r.err == nil || !strings.Contains(r.err.Error(), `url: http.post: unknown column "idd" (did you mean "id"?)`) {
		t.Fatalf("err = %v", r.err)
	}
}
