package httpconn

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
)

func TestGetExamples(t *testing.T) {
	checkLeaks(t)
	srv := NewExampleServer()
	defer srv.Close()
	spec := GetSpec()
	if len(spec.Examples) == 0 {
		t.Fatal("http.get has no example")
	}
	for _, ex := range spec.Examples {
		if !strings.Contains(ex.Config, ExampleBaseURL) {
			t.Errorf("example %q does not use %s", ex.Title, ExampleBaseURL)
		}
		ex.Config = ExampleConfig(ex.Config, srv.URL)
		t.Run(ex.Title, func(t *testing.T) { spectest.Run(t, spec, ex) })
	}
}

func TestGetUnboundedAndConfig(t *testing.T) {
	s := GetSpec()
	if s.Unbounded(flow.Config{}) || !s.Unbounded(flow.Config{"poll_interval": time.Minute}) {
		t.Error("http.get is unbounded exactly when poll_interval is set")
	}
	for _, tc := range []struct {
		toml, key string
	}{
		{`url = "ftp://x/y"`, "url"},
		{`url = "not a url"`, "url"},
		{"url = \"http://x/\"\npagination = \"offset\"", "limit"},
		{"url = \"http://x/\"\npagination = \"cursor\"", "cursor_path"},
		{"url = \"http://x/\"\npagination = \"cursor\"\ncursor_path = \"next\"\nformat = \"csv\"", "pagination"},
		{"url = \"http://x/\"\npagination = \"pages\"", "pagination"},
		{"url = \"http://x/\"\ncursor_column = \"id\"", "cursor_column"},
		{"url = \"http://x/\"\npoll_interval = \"1s\"\nsince_param = \"since\"", "since_param"},
		{"url = \"http://x/\"\nbearer_token_env = \"CONVEYOR_TEST_UNSET_VAR_X\"", "bearer_token_env"},
	} {
		raw := map[string]any{}
		if _, err := toml.Decode(tc.toml, &raw); err != nil {
			t.Fatal(err)
		}
		cfg, errs := flow.CheckConfig(s, raw)
		if len(errs) == 0 {
			_, err := s.New(cfg, flow.BuildEnv{})
			if pe, ok := err.(*flow.ParamError); ok && pe.Key == tc.key {
				continue
			}
			t.Errorf("%s: no error on %s (New: %v)", tc.toml, tc.key, err)
			continue
		}
		if errs[0].Key != tc.key {
			t.Errorf("%s: errors %v, want one on key %q", tc.toml, errs, tc.key)
		}
	}
}

// runGet runs http.get in isolation with config (TOML) and returns its
// rows as NDJSON and its rejections as "source: error" lines.
func runGet(t *testing.T, config string, strategy flow.Strategy) (string, []string, error) {
	t.Helper()
	raw := map[string]any{}
	if _, err := toml.Decode(config, &raw); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	res, err := flow.RunIsolated(context.Background(), GetSpec(), raw, flow.BuildEnv{StageID: "get", Alloc: mem}, strategy)
	if err != nil {
		return "", nil, err
	}
	defer res.Release()
	var rejected []string
	for _, b := range res.Ports[flow.PortErrors] {
		src, msg := b.Column(2).(*array.String), b.Column(3).(*array.String)
		for i := range int(b.NumRows()) {
			rejected = append(rejected, src.Value(i)+": "+msg.Value(i))
		}
	}
	return batch.ToNDJSON(res.Output...), rejected, nil
}

// api is a test server recording the query of every request.
type api struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string
}

func newAPI(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *api {
	a := &api{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.queries = append(a.queries, r.URL.RawQuery)
		a.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *api) requests() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.queries...)
}

func rowsJSON(from, to int) string {
	var parts []string
	for i := from; i < to; i++ {
		parts = append(parts, fmt.Sprintf(`{"id": %d}`, i))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func ids(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "{\"id\":%d}\n", i)
	}
	return b.String()
}

func TestGetPagination(t *testing.T) {
	checkLeaks(t)
	const total = 7
	num := func(r *http.Request, k string) int { n, _ := strconv.Atoi(r.URL.Query().Get(k)); return n }
	pages := newAPI(t, func(w http.ResponseWriter, r *http.Request) {
		p, size := num(r, "p"), 3
		fmt.Fprintf(w, `{"result": {"rows": %s}}`, rowsJSON(min((p-1)*size, total), min(p*size, total)))
	})
	offsets := newAPI(t, func(w http.ResponseWriter, r *http.Request) {
		off, lim := num(r, "skip"), num(r, "take")
		fmt.Fprint(w, rowsJSON(min(off, total), min(off+lim, total)))
	})
	cursors := newAPI(t, func(w http.ResponseWriter, r *http.Request) {
		from := num(r, "cursor")
		to := min(from+3, total)
		next := `null`
		if to < total {
			next = strconv.Quote(strconv.Itoa(to))
		}
		fmt.Fprintf(w, `{"items": %s, "paging": {"next": %s}}`, rowsJSON(from, to), next)
	})
	var links *api
	links = newAPI(t, func(w http.ResponseWriter, r *http.Request) {
		from := num(r, "from")
		to := min(from+3, total)
		if to < total {
			w.Header().Add("Link", fmt.Sprintf(`<%s/rows?from=%d>; rel="next"`, links.URL, to))
			w.Header().Add("Link", fmt.Sprintf(`<%s/rows?from=0>; rel="first"`, links.URL))
		}
		for i := from; i < to; i++ {
			fmt.Fprintf(w, "{\"id\": %d}\n", i)
		}
	})
	for _, tc := range []struct {
		name, config string
		srv          *api
		from         int
		queries      []string
	}{
		{"page numbers until an empty page", "pagination = \"page\"\npage_param = \"p\"\nrecords_path = \"result.rows\"", pages, 0,
			[]string{"p=1&x=1", "p=2&x=1", "p=3&x=1", "p=4&x=1"}},
		{"page numbers until a short page", "pagination = \"page\"\npage_param = \"p\"\nlimit = 3\nlimit_param = \"n\"\nrecords_path = \"result.rows\"", pages, 0,
			[]string{"n=3&p=1&x=1", "n=3&p=2&x=1", "n=3&p=3&x=1"}},
		{"offset and limit", "pagination = \"offset\"\noffset_param = \"skip\"\nlimit_param = \"take\"\nlimit = 4", offsets, 0,
			[]string{"skip=0&take=4&x=1", "skip=4&take=4&x=1"}},
		{"cursor from the response", "pagination = \"cursor\"\ncursor_path = \"paging.next\"\nrecords_path = \"items\"", cursors, 0,
			[]string{"x=1", "cursor=3&x=1", "cursor=6&x=1"}},
		{"link header", "pagination = \"link\"\nformat = \"jsonl\"", links, 0,
			[]string{"x=1", "from=3", "from=6"}},
		{"no pagination", "records_path = \"items\"", cursors, 0, []string{"x=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(tc.srv.requests())
			out, rej, err := runGet(t, fmt.Sprintf("url = %q\nquery = {x = 1}\n%s", tc.srv.URL+"/rows", tc.config), "")
			if err != nil {
				t.Fatal(err)
			}
			want := ids(0, total)
			if tc.name == "no pagination" {
				want = ids(0, 3)
			}
			if out != want || len(rej) > 0 {
				t.Errorf("rows\n%s\nwant\n%s\nrejected %v", out, want, rej)
			}
			if got := tc.srv.requests()[before:]; strings.Join(got, " ") != strings.Join(tc.queries, " ") {
				t.Errorf("requests %q\nwant     %q", got, tc.queries)
			}
		})
	}
}

func TestGetRecordsPath(t *testing.T) {
	checkLeaks(t)
	srv := newAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/nested":
			fmt.Fprint(w, `{"pages": [{"hits": [{"a": 1}]}, {"hits": [{"a": 2, "b": {"c": [1, 2]}}, {"a": 3}]}]}`)
		case "/null":
			fmt.Fprint(w, `{"data": null}`)
		case "/one":
			fmt.Fprint(w, `{"data": {"a": 9}}`)
		case "/scalar":
			fmt.Fprint(w, `{"data": 5}`)
		case "/html":
			fmt.Fprint(w, `<html>maintenance</html>`)
		}
	})
	for _, tc := range []struct{ path, records, want, err string }{
		{"/nested", "pages.1.hits", `{"a":2,"b":{"c":[1,2]}}` + "\n" + `{"a":3,"b":null}` + "\n", ""},
		{"/null", "data.items", "", ""},
		{"/null", "data", "", ""},
		{"/one", "data", `{"a":9}` + "\n", ""},
		{"/one", "info.items", "", `records_path "info.items": the body has no key "info" (keys: data)`},
		{"/nested", "pages.5.hits", "", `"pages" is an array of 2 elements, "5" is not an index`},
		{"/scalar", "data", "", "record 1: not a JSON object"},
		{"/html", "", "", "invalid JSON in the body at line 1"},
	} {
		out, rej, err := runGet(t, fmt.Sprintf("url = %q\nrecords_path = %q", srv.URL+tc.path, tc.records), "")
		if tc.records == "" {
			out, rej, err = runGet(t, fmt.Sprintf("url = %q", srv.URL+tc.path), "")
		}
		if len(rej) > 0 && err == nil {
			err = fmt.Errorf("%s", strings.Join(rej, "; "))
		}
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s %s: %v", tc.path, tc.records, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s %s: error %v, want %q", tc.path, tc.records, err, tc.err)
		case tc.err == "" && out != tc.want:
			t.Errorf("%s %s: rows\n%s\nwant\n%s", tc.path, tc.records, out, tc.want)
		}
	}
}

// The schema is fixed by the first page: a record of a later page with an
// unknown key or a value of another type is rejected with its page and
// position; the stop strategy fails the run on it.
func TestGetSchemaFixedByFirstPage(t *testing.T) {
	checkLeaks(t)
	srv := newAPI(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page") {
		case "1":
			fmt.Fprint(w, `[{"id": 1, "name": "a"}]`)
		case "2":
			fmt.Fprint(w, `[{"id": 2, "name": "b", "extra": 1}, {"id": "three"}, {"id": 4}]`)
		default:
			fmt.Fprint(w, `[]`)
		}
	})
	cfg := fmt.Sprintf("url = %q\npagination = \"page\"", srv.URL+"/items")
	out, rej, err := runGet(t, cfg, flow.StrategyContinue)
	if err != nil {
		t.Fatal(err)
	}
	if out != `{"id":1,"name":"a"}`+"\n"+`{"id":4,"name":null}`+"\n" {
		t.Errorf("rows\n%s", out)
	}
	if len(rej) != 2 || !strings.Contains(rej[0], "(page 2) record 1: key \"extra\" is not in the schema fixed by the first page") ||
		!strings.Contains(rej[1], "(page 2) record 2: column \"id\"") || strings.Contains(rej[0], "page=2") {
		t.Errorf("rejections %q", rej)
	}
	if _, _, err := runGet(t, cfg, flow.StrategyStop); err == nil || !strings.Contains(err.Error(), `key "extra"`) {
		t.Errorf("stop strategy: %v", err)
	}
}

// Error answers fail the run with the status, an excerpt of the body and
// the page; a 429 with Retry-After and 5xx are retried first.
func TestGetErrorStatuses(t *testing.T) {
	checkLeaks(t)
	var mu sync.Mutex
	hits := map[string]int{}
	srv := newAPI(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		n := hits[r.URL.Path]
		mu.Unlock()
		switch r.URL.Path {
		case "/missing":
			http.Error(w, `{"message": "no such collection"}`, http.StatusNotFound)
		case "/busy":
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			fmt.Fprint(w, `[{"ok": true}]`)
		case "/broken":
			http.Error(w, "internal failure", http.StatusInternalServerError)
		case "/second":
			if r.URL.Query().Get("page") == "2" {
				http.Error(w, "gone", http.StatusGone)
				return
			}
			fmt.Fprint(w, `[{"id": 1}]`)
		case "/stuck":
			fmt.Fprint(w, `{"items": [{"id": 1}], "next": "same"}`)
		}
	})
	_, _, err := runGet(t, fmt.Sprintf("url = %q\nquery = {token = \"s3cret\"}", srv.URL+"/missing"), "")
	if err == nil || !strings.Contains(err.Error(), "HTTP 404") || !strings.Contains(err.Error(), "no such collection") ||
		!strings.Contains(err.Error(), "page 1") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("404: %v", err)
	}
	out, _, err := runGet(t, fmt.Sprintf("url = %q", srv.URL+"/busy"), "")
	if err != nil || out != `{"ok":true}`+"\n" || hits["/busy"] != 2 {
		t.Errorf("429 then 200: %v %q after %d requests", err, out, hits["/busy"])
	}
	_, _, err = runGet(t, fmt.Sprintf("url = %q\nretries = 2\nbackoff = \"1ms\"\nbackoff_max = \"2ms\"", srv.URL+"/broken"), "")
	if err == nil || !strings.Contains(err.Error(), "HTTP 500") || !strings.Contains(err.Error(), "after 3 attempts") || hits["/broken"] != 3 {
		t.Errorf("500s: %v after %d requests", err, hits["/broken"])
	}
	_, _, err = runGet(t, fmt.Sprintf("url = %q\npagination = \"page\"", srv.URL+"/second"), flow.StrategyContinue)
	if err == nil || !strings.Contains(err.Error(), "page 2") || !strings.Contains(err.Error(), "HTTP 410") {
		t.Errorf("error on page 2: %v", err)
	}
	_, _, err = runGet(t, fmt.Sprintf("url = %q\npagination = \"cursor\"\ncursor_path = \"next\"\nrecords_path = \"items\"", srv.URL+"/stuck"), "")
	if err == nil || !strings.Contains(err.Error(), "did not change") {
		t.Errorf("stuck cursor: %v", err)
	}
	out, _, err = runGet(t, fmt.Sprintf("url = %q\npagination = \"cursor\"\ncursor_path = \"next\"\nrecords_path = \"items\"\nmax_pages = 1", srv.URL+"/stuck"), "")
	if err != nil || out != `{"id":1}`+"\n" {
		t.Errorf("max_pages: %v %q", err, out)
	}
}

// Polling on a mock clock: each poll emits only the records whose
// cursor_column is greater than any seen before, and sends the largest
// seen as since_param; a failed poll is skipped under continue.
func TestGetPollsNewRecords(t *testing.T) {
	checkLeaks(t)
	var mu sync.Mutex
	records := []string{`{"id": 2, "v": "b"}`, `{"id": 1, "v": "a"}`}
	failing := false
	polls := 0
	srv := newAPI(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		// polls counts the polls answered whole: by an empty last page,
		// or by an error.
		if failing {
			polls++
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		// Two records per page, newest first; the server ignores since.
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		from, to := min((p-1)*2, len(records)), min(p*2, len(records))
		if from == to {
			polls++
		}
		fmt.Fprintf(w, "[%s]", strings.Join(records[from:to], ","))
	})
	mock := clock.NewMock()
	c := &collector{}
	reg := flow.NewRegistry()
	RegisterSources(reg)
	reg.Register(&flow.Spec{Name: "test.collect", Kind: flow.KindSink, Summary: "collects",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return c, nil }})
	src := fmt.Sprintf(`[pipeline]
name = "poll"
[error_handling]
strategy = "continue"
[[stages]]
id = "in"
function = "http.get"
[stages.config]
url = %q
pagination = "page"
poll_interval = "10s"
cursor_column = "id"
since_param = "since"
timeout_seconds = 0
retries = 0
[[stages]]
id = "out"
function = "test.collect"
inputs = ["in"]
`, srv.URL+"/feed")
	f, err := flow.Parse("poll.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	if us := g.UnboundedSources(); len(us) != 1 {
		t.Errorf("unbounded sources %v", us)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem, Clock: mock})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	pollCount := func() int { mu.Lock(); defer mu.Unlock(); return polls }
	// nextPoll advances the mock clock until the source has finished n
	// polls in all (the timer may not be armed yet at the first Add).
	nextPoll := func(n int) {
		t.Helper()
		waitUntil(t, func() bool {
			if pollCount() >= n {
				return true
			}
			mock.Add(10 * time.Second)
			return false
		})
	}
	waitUntil(t, func() bool { return pollCount() == 1 && len(c.snapshot()) == 2 })
	if got := strings.Join(c.snapshot(), ","); got != `{"id":2,"v":"b"},{"id":1,"v":"a"}` {
		t.Fatalf("first poll: %s", got)
	}
	mu.Lock()
	records = append([]string{`{"id": 4, "v": "d"}`, `{"id": 3, "v": "c"}`}, records...)
	records = append(records, `{"id": 0, "v": "late but old"}`)
	mu.Unlock()
	nextPoll(2)
	waitUntil(t, func() bool { return len(c.snapshot()) == 4 })
	// A failing poll emits nothing and does not end the stream.
	mu.Lock()
	failing = true
	mu.Unlock()
	nextPoll(3)
	mu.Lock()
	failing = false
	records = append([]string{`{"id": 5, "v": "e"}`}, records...)
	mu.Unlock()
	nextPoll(4)
	waitUntil(t, func() bool { return len(c.snapshot()) == 5 })
	nextPoll(5) // nothing new
	r.Drain()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mem.AssertSize(t, 0)
	want := `{"id":2,"v":"b"},{"id":1,"v":"a"},{"id":4,"v":"d"},{"id":3,"v":"c"},{"id":5,"v":"e"}`
	if got := strings.Join(c.snapshot(), ","); got != want {
		t.Errorf("rows %s\nwant %s", got, want)
	}
	var sinces []string
	for _, q := range srv.requests() {
		if strings.Contains(q, "page=1") {
			sinces = append(sinces, q)
		}
	}
	if len(sinces) < 5 || strings.Contains(sinces[0], "since") || !strings.Contains(sinces[1], "since=2") ||
		!strings.Contains(sinces[3], "since=4") || !strings.Contains(sinces[4], "since=5") {
		t.Errorf("first-page requests of each poll: %q", sinces)
	}
}

// checkLeaks verifies, after the test's other cleanups (its servers
// closed), that it left no goroutine behind.
func checkLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}
