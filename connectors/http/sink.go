package httpconn

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx"
)

// RegisterSinks adds http.post, http.put, http.patch and http.delete to r.
func RegisterSinks(r *flow.Registry) {
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		r.Register(SinkSpec(m))
	}
}

// SinkSpec returns the spec of the sink sending rows with the given HTTP
// method (POST, PUT, PATCH or DELETE): http.post, http.put, ...
func SinkSpec(method string) *flow.Spec {
	lower := strings.ToLower(method)
	stage := "http." + lower
	rowBody := "the row as a JSON object (every column)"
	if method == http.MethodDelete {
		rowBody = "nothing (no body) unless body is set"
	}
	params := []flow.Param{
		{Name: "url", Type: flow.TypeString, Required: true,
			Doc: "URL template: {{ column }} placeholders are filled from the row, path-escaped in the path and query-escaped after '?' (as is in the scheme and host). A null value rejects the row. In batch mode it may not use columns."},
		{Name: "headers", Type: flow.TypeTable,
			Doc: "Headers, name → value template ({{ column }} inserted as is; not in batch mode). Values never appear in errors or logs."},
		{Name: "mode", Type: flow.TypeString, Default: "per_row", Allowed: []string{"per_row", "batch"},
			Doc: "per_row: one request per row; batch: one request per batch_size rows."},
		{Name: "batch_size", Type: flow.TypeInt, Default: int64(1000), Min: flow.F(0),
			Doc: "Batch mode: rows per request (0: one request per input batch)."},
		{Name: "body_format", Type: flow.TypeString, Default: "json", Allowed: []string{"json", "ndjson", "jsonl"},
			Doc: "Batch mode body: json (a JSON array of the rows, Content-Type application/json) or ndjson/jsonl (one JSON object per line, application/x-ndjson)."},
		{Name: "body", Type: flow.TypeString,
			Doc: "Body template replacing the row object: the body in per_row mode, each element (or line) in batch mode. Inside a JSON string a {{ column }} is escaped as string content; outside it is written as a JSON value."},
		{Name: "concurrency", Type: flow.TypeInt, Default: int64(1), Min: flow.F(1), Max: flow.F(256),
			Doc: "Requests in flight at once. Above 1 the order in which the server receives them is not the row order."},
	}
	for _, p := range httpx.Params() {
		if p.Name != "headers" {
			params = append(params, p)
		}
	}
	return &flow.Spec{
		Name:    stage,
		Kind:    flow.KindSink,
		Tags:    []string{"http", "io"},
		Summary: "Send rows to an HTTP endpoint with " + method + ".",
		Description: `Each row (per_row mode) or each group of batch_size rows (batch mode) becomes one ` + method + `
request to url, a {{ column }} template filled from the row (in batch mode it may not use columns).

In per_row mode the body is ` + rowBody + `, or the body template rendered for the row.
In batch mode the body holds the group's rows as a JSON array (body_format = "json") or as
NDJSON lines (body_format = "ndjson"); each element is the row object or the rendered body
template. JSON bodies are sent with Content-Type application/json unless headers set one.

Every request goes through the shared HTTP client: timeout_seconds per attempt, retries with
exponential backoff and jitter on 408/425/429/5xx and network errors (Retry-After honoured),
rate_limit, headers and bearer_token_env. Any status below 400 counts as written. A request
that finally fails rejects its rows (the row, or every row of the group) with the method, the
URL (query values redacted), the status and the first 200 bytes of the answer: under on_error
= "stop" (the default) the run stops; with "continue" the rows go to the dead-letter output
and the run goes on. A batch is acknowledged (for end-to-end at-least-once) once all its
requests have been answered.`,
		Params: params,
		Check:  sinkCheck,
		Schema: func(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
			return nil, sinkBindCheck(stage, cfg, inputs[0])
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return newHTTPSink(method, cfg, env)
		},
		Examples: sinkExamples(method),
	}
}

func sinkExamples(method string) []flow.Example {
	base := httpx.ExampleURL
	switch method {
	case http.MethodPost:
		return []flow.Example{
			{
				Title:  "One POST per row, the row as the JSON body (Output: what the server received)",
				Config: "url = \"" + base + "/orders\"\n",
				Input:  "{\"id\":1,\"total\":9.5}\n{\"id\":2,\"total\":12}\n",
				Output: "POST /orders\n{\"id\":1,\"total\":9.5}\nPOST /orders\n{\"id\":2,\"total\":12}\n",
			},
			{
				Title:  "Batches of NDJSON",
				Config: "url = \"" + base + "/bulk\"\nmode = \"batch\"\nbatch_size = 2\nbody_format = \"ndjson\"\n",
				Input:  "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n",
				Output: "POST /bulk\n{\"id\":1}\n{\"id\":2}\nPOST /bulk\n{\"id\":3}\n",
			},
		}
	case http.MethodPut:
		return []flow.Example{{
			Title:  "PUT each row to its own URL with a body template",
			Config: "url = \"" + base + "/users/{{ id }}\"\nbody = '{\"name\": \"{{ name }}\"}'\n",
			Input:  "{\"id\":7,\"name\":\"Ann\"}\n",
			Output: "PUT /users/7\n{\"name\": \"Ann\"}\n",
		}}
	case http.MethodPatch:
		return []flow.Example{{
			Title:  "PATCH with the batch as one JSON array",
			Config: "url = \"" + base + "/users\"\nmode = \"batch\"\n",
			Input:  "{\"id\":1,\"active\":false}\n{\"id\":2,\"active\":true}\n",
			Output: "PATCH /users\n[{\"id\":1,\"active\":false},{\"id\":2,\"active\":true}]\n",
		}}
	}
	return []flow.Example{{
		Title:  "DELETE each row's resource (no body)",
		Config: "url = \"" + base + "/users/{{ id }}?reason={{ reason }}\"\n",
		Input:  "{\"id\":4,\"reason\":\"gdpr request\"}\n",
		Output: "DELETE /users/4?reason=gdpr+request\n",
	}}
}

func sinkCheck(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	if cfg.Str("mode") == "batch" {
		if t := httpx.ParseTemplate(cfg.Str("url"), httpx.EscapeURL); !t.Static() {
			errs = append(errs, &flow.ConfigError{Key: "url", Message: fmt.Sprintf("in batch mode the url cannot use columns (it uses %s)", strings.Join(t.Columns(), ", "))})
		}
		for _, k := range cfg.SortedKeys("headers") {
			if t := httpx.ParseTemplate(fmt.Sprint(cfg.Table("headers")[k]), httpx.EscapeRaw); !t.Static() {
				errs = append(errs, &flow.ConfigError{Key: "headers", Message: fmt.Sprintf("in batch mode header %s cannot use columns", k)})
			}
		}
	}
	return errs
}

// sinkBindCheck reports, before the run, a template column the input
// lacks.
func sinkBindCheck(stage string, cfg flow.Config, in *arrow.Schema) error {
	if _, err := httpx.ParseTemplate(cfg.Str("url"), httpx.EscapeURL).Bind(stage, "url", in); err != nil {
		return err
	}
	if cfg.Has("body") {
		if _, err := httpx.ParseTemplate(cfg.Str("body"), httpx.EscapeJSON).Bind(stage, "body", in); err != nil {
			return err
		}
	}
	for _, k := range cfg.SortedKeys("headers") {
		if _, err := httpx.ParseTemplate(fmt.Sprint(cfg.Table("headers")[k]), httpx.EscapeRaw).Bind(stage, "headers", in); err != nil {
			return err
		}
	}
	return nil
}

type httpSink struct {
	stage       string // http.post, ...
	method      string
	batchMode   bool
	batchSize   int
	ndjson      bool
	rowBody     bool // per_row without a template: send the row object
	concurrency int
	url         *httpx.Template
	headers     []sinkHeader
	body        *httpx.Template
	hasCT       bool
	client      *httpx.Client

	schema  *arrow.Schema
	bURL    *httpx.Bound
	bBody   *httpx.Bound
	bHeader []*httpx.Bound

	rows, rejected, failed int64
	retriesSeen            int64
}

type sinkHeader struct {
	name string
	tpl  *httpx.Template
}

func newHTTPSink(method string, cfg flow.Config, env flow.BuildEnv) (*httpSink, error) {
	opts, err := httpx.FromConfig(cfg, env)
	if err != nil {
		return nil, err
	}
	opts.Headers = nil // templated: rendered per request
	s := &httpSink{
		stage:       "http." + strings.ToLower(method),
		method:      method,
		batchMode:   cfg.Str("mode") == "batch",
		batchSize:   cfg.Int("batch_size"),
		ndjson:      cfg.Str("body_format") != "json",
		concurrency: max(1, cfg.Int("concurrency")),
		url:         httpx.ParseTemplate(cfg.Str("url"), httpx.EscapeURL),
		client:      httpx.New(opts),
	}
	if cfg.Has("body") {
		s.body = httpx.ParseTemplate(cfg.Str("body"), httpx.EscapeJSON)
	}
	s.rowBody = s.body == nil && method != http.MethodDelete
	for _, k := range cfg.SortedKeys("headers") {
		s.headers = append(s.headers, sinkHeader{name: k, tpl: httpx.ParseTemplate(fmt.Sprint(cfg.Table("headers")[k]), httpx.EscapeRaw)})
		if strings.EqualFold(k, "Content-Type") {
			s.hasCT = true
		}
	}
	return s, nil
}

func (s *httpSink) bind(st *flow.Stage, sc *arrow.Schema) error {
	if s.schema != nil && s.schema.Equal(sc) {
		return nil
	}
	var err error
	if s.bURL, err = s.url.Bind(s.stage, "url", sc); err != nil {
		return err
	}
	s.bBody = nil
	if s.body != nil {
		if s.bBody, err = s.body.Bind(s.stage, "body", sc); err != nil {
			return err
		}
	}
	s.bHeader = s.bHeader[:0]
	for _, h := range s.headers {
		b, err := h.tpl.Bind(s.stage, "headers", sc)
		if err != nil {
			return err
		}
		s.bHeader = append(s.bHeader, b)
	}
	s.schema = sc
	return nil
}

// sinkJob is one request: rows [lo, hi) of the batch.
type sinkJob struct {
	lo, hi int
	err    error
}

// Write sends b's rows and returns once every request has been answered;
// rows whose request failed are rejected per the stage's strategy.
func (s *httpSink) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	if err := s.bind(st, b.Schema()); err != nil {
		return fmt.Errorf("stage %q: %w", st.ID, err)
	}
	n := int(b.NumRows())
	var jobs []sinkJob
	if s.batchMode {
		size := s.batchSize
		if size <= 0 {
			size = n
		}
		for lo := 0; lo < n; lo += size {
			jobs = append(jobs, sinkJob{lo: lo, hi: min(lo+size, n)})
		}
	} else {
		jobs = make([]sinkJob, n)
		for i := range jobs {
			jobs[i] = sinkJob{lo: i, hi: i + 1}
		}
	}
	// Under "stop", no new request starts after a failure.
	stopOnFailure := st.Strategy() == flow.StrategyStop
	var failed atomic.Bool
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(s.concurrency, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && !(stopOnFailure && failed.Load()) {
				j := int(next.Add(1)) - 1
				if j >= len(jobs) {
					return
				}
				if jobs[j].err = s.send(ctx, b, jobs[j].lo, jobs[j].hi); jobs[j].err != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	stats := s.client.Stats()
	st.Metrics().Retries.Add(stats.Retries - s.retriesSeen)
	s.retriesSeen = stats.Retries
	base := s.rows
	s.rows += int64(n)
	for _, j := range jobs {
		if j.err == nil {
			continue
		}
		s.failed++
		for i := j.lo; i < j.hi; i++ {
			s.rejected++
			rej := flow.Rejection{Err: j.err, Source: "input row " + strconv.FormatInt(base+int64(i)+1, 10), Row: batch.Row(b, i)}
			if err := st.Reject(ctx, rej); err != nil {
				return err
			}
		}
	}
	return nil
}

// send renders and sends the request for rows [lo, hi) of b.
func (s *httpSink) send(ctx context.Context, b arrow.RecordBatch, lo, hi int) error {
	buf, err := s.bURL.Render(nil, b, lo)
	if err != nil {
		return err
	}
	url := string(buf)
	header := http.Header{}
	for i, h := range s.headers {
		v, err := s.bHeader[i].Render(nil, b, lo)
		if err != nil {
			return err
		}
		header.Set(h.name, string(v))
	}
	var body []byte
	element := func(dst []byte, i int) ([]byte, error) {
		if s.bBody != nil {
			return s.bBody.Render(dst, b, i)
		}
		return batch.AppendRowJSON(dst, b, i), nil
	}
	ct := "application/json"
	switch {
	case !s.batchMode:
		if s.rowBody || s.bBody != nil {
			if body, err = element(nil, lo); err != nil {
				return err
			}
		}
	case s.ndjson:
		ct = "application/x-ndjson"
		body = []byte{}
		for i := lo; i < hi; i++ {
			if body, err = element(body, i); err != nil {
				return err
			}
			body = append(body, '\n')
		}
	default:
		body = append(body, '[')
		for i := lo; i < hi; i++ {
			if i > lo {
				body = append(body, ',')
			}
			if body, err = element(body, i); err != nil {
				return err
			}
		}
		body = append(body, ']')
	}
	if body != nil && !s.hasCT {
		header.Set("Content-Type", ct)
	}
	_, err = s.client.Do(ctx, s.method, url, header, body)
	return err
}

var _ flow.Durable = (*httpSink)(nil)

// Durable returns at once: Write returns only when every request of the
// batch has been answered.
func (s *httpSink) Durable(ctx context.Context, st *flow.Stage) error { return nil }

// Close logs what was sent.
func (s *httpSink) Close(ctx context.Context, st *flow.Stage) error {
	stats := s.client.Stats()
	st.Logger.Info(s.stage+" finished", "rows", s.rows, "requests", stats.Requests, "retries", stats.Retries,
		"requests_failed", s.failed, "rejected", s.rejected)
	s.client.Close()
	return nil
}

// Abort releases the client's connections (nothing is half-written: each
// request is whole or not sent).
func (s *httpSink) Abort() { s.client.Close() }
