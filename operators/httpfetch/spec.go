package httpfetch

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx"
)

const name = "http.fetch"

// Register adds http.fetch to r.
func Register(r *flow.Registry) { r.Register(Spec()) }

// Spec returns http.fetch's spec (a new value on each call).
func Spec() *flow.Spec {
	params := []flow.Param{
		{Name: "url", Type: flow.TypeString, Required: true,
			Doc: "URL template: {{ column }} placeholders are filled from the row, path-escaped in the path and query-escaped after '?' (as is in the scheme and host, so a column may hold a whole URL). A null value rejects the row."},
		{Name: "method", Type: flow.TypeString, Default: "GET", Allowed: []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"},
			Doc: "HTTP method."},
		{Name: "headers", Type: flow.TypeTable,
			Doc: "Headers, name → value template ({{ column }} inserted as is). Values never appear in errors or logs."},
		{Name: "body", Type: flow.TypeString,
			Doc: "Body template. With body_escape = \"json\", a {{ column }} inside a JSON string is escaped as string content and one outside is written as a JSON value (null, numbers, strings quoted). In batch mode it is the template of each array element."},
		{Name: "body_escape", Type: flow.TypeString, Default: "json", Allowed: []string{"json", "raw", "url"},
			Doc: "How the body template inserts values: json (see body), raw (text as is, null as empty), url (query-escaped, for form bodies)."},
		{Name: "mode", Type: flow.TypeString, Default: "per_row", Allowed: []string{"per_row", "batch"},
			Doc: "per_row: one request per row. batch: one POST-style request per group of batch_size rows whose body is a JSON array of the rows, answered by an array of as many elements."},
		{Name: "batch_size", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0),
			Doc: "Rows per request in batch mode (0: one request per input batch)."},
		{Name: "response_path", Type: flow.TypeString,
			Doc: "Batch mode: dotted path to the array inside the response object (\"results\", \"data.items\"); empty: the response is the array."},
		{Name: "result_field", Type: flow.TypeString, Default: "response",
			Doc: "Column receiving the response body (replaced in place if it exists); see the description for its form."},
		{Name: "status_field", Type: flow.TypeString,
			Doc: "Column receiving the response's HTTP status as an integer (optional)."},
		{Name: "concurrency", Type: flow.TypeInt, Default: int64(8), Min: flow.F(1), Max: flow.F(1024),
			Doc: "Requests in flight at once; output rows keep their input order."},
		{Name: "cache_size", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0),
			Doc: "Responses kept in an LRU cache keyed by method, URL, templated headers and body (0: no cache). Rows with a cached or in-flight key send no request."},
		{Name: "cache_ttl", Type: flow.TypeDuration, Default: "0s", Min: flow.F(0),
			Doc: "How long a cached response stays valid, on the pipeline clock (0: until evicted)."},
	}
	for _, p := range httpx.Params() {
		if p.Name == "headers" {
			continue // templated here
		}
		params = append(params, p)
	}
	return &flow.Spec{
		Name:    name,
		Kind:    flow.KindTransform,
		Tags:    []string{"http", "enrichment", "io"},
		Summary: "Enrich rows with the answer of an HTTP request built from each row.",
		Description: `Each row fills the url, headers and body templates ({{ column }}); the response body goes to
result_field and, if status_field is set, the status to that column. The input columns are kept.

result_field is a string column marked as JSON: a body that is valid JSON is stored compacted
(whitespace between tokens removed) and JSON writers emit it nested; any other body is stored
as its text; an empty body (204, HEAD) is null. Use json.extract to pull values out of it.

concurrency requests are in flight at once within each input batch, and the output keeps the
input's row order. Every request goes through the shared HTTP client: timeout_seconds per
attempt, retries with exponential backoff and jitter on 408/425/429/5xx and network errors
(Retry-After honoured), rate_limit requests per second, headers and bearer_token_env.

A row whose request finally fails (a 4xx, or retries spent) is rejected: its error names the
method, the URL (query values redacted), the status and the first 200 bytes of the body.
Under on_error = "stop" (the default) the pipeline stops; with "continue" the row goes to the
errors port or the dead-letter output and the run goes on.

With cache_size > 0, responses are cached by request key (method, URL, templated header
values, body): a repeated key costs one request, including while the first request is in
flight; failures are not cached. The stage logs, when its input ends, how many rows were
answered from the cache, the requests sent and the retries.

mode = "batch" sends one request per batch_size rows (default: per input batch) whose body is
a JSON array: one object per row (all columns), or the body template rendered per row. The
answer must be a JSON array (at response_path in an object, if set) with one element per row,
in order; element i goes to row i's result_field. A failed request, or an answer of the wrong
shape, rejects every row of the group. In batch mode url and headers may not use columns.`,
		Params: params,
		Check:  check,
		New:    newFetch,
		Schema: schema,
		Examples: []flow.Example{
			{
				Title:  "Look each user up (the example server answers /users/{id})",
				Config: "url = \"" + httpx.ExampleURL + "/users/{{ id }}\"\nresult_field = \"user\"\nstatus_field = \"status\"\n",
				Input:  "{\"id\":1}\n{\"id\":3}\n",
				Output: "{\"id\":1,\"user\":{\"id\":1,\"name\":\"Ann\"},\"status\":200}\n{\"id\":3,\"user\":{\"id\":3,\"name\":\"Cy\"},\"status\":200}\n",
			},
			{
				Title:  "Batch mode: one request with a JSON array of texts, an array of labels back",
				Config: "url = \"" + httpx.ExampleURL + "/sentiment\"\nmethod = \"POST\"\nmode = \"batch\"\nbody = '{\"text\": \"{{ review }}\"}'\nresult_field = \"sentiment\"\n",
				Input:  "{\"review\":\"good stuff\"}\n{\"review\":\"meh\"}\n",
				Output: "{\"review\":\"good stuff\",\"sentiment\":{\"label\":\"positive\"}}\n{\"review\":\"meh\",\"sentiment\":{\"label\":\"negative\"}}\n",
			},
		},
	}
}

func check(cfg flow.Config) []*flow.ConfigError {
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
		if cfg.Str("body_escape") != "json" {
			errs = append(errs, &flow.ConfigError{Key: "body_escape", Message: "batch mode sends a JSON array: body_escape must be \"json\""})
		}
	} else {
		if cfg.Str("response_path") != "" {
			errs = append(errs, &flow.ConfigError{Key: "response_path", Message: "response_path applies to mode = \"batch\" only"})
		}
		if cfg.Int("batch_size") != 0 {
			errs = append(errs, &flow.ConfigError{Key: "batch_size", Message: "batch_size applies to mode = \"batch\" only"})
		}
	}
	if cfg.Str("result_field") == "" {
		errs = append(errs, &flow.ConfigError{Key: "result_field", Message: "must not be empty"})
	}
	if sf := cfg.Str("status_field"); sf != "" && sf == cfg.Str("result_field") {
		errs = append(errs, &flow.ConfigError{Key: "status_field", Message: fmt.Sprintf("is the same column as result_field (%q)", sf)})
	}
	return errs
}

// outSchema is the input schema with result_field (and status_field)
// replaced in place or appended.
func outSchema(cfg flow.Config, in *arrow.Schema) (*arrow.Schema, int, int) {
	fields := append([]arrow.Field(nil), in.Fields()...)
	put := func(f arrow.Field) int {
		for i := range fields {
			if fields[i].Name == f.Name {
				fields[i] = f
				return i
			}
		}
		fields = append(fields, f)
		return len(fields) - 1
	}
	resIdx := put(arrow.Field{Name: cfg.Str("result_field"), Type: arrow.BinaryTypes.String, Nullable: true,
		Metadata: arrow.NewMetadata([]string{batch.MetaJSON}, []string{"true"})})
	statusIdx := -1
	if sf := cfg.Str("status_field"); sf != "" {
		statusIdx = put(arrow.Field{Name: sf, Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	}
	md := in.Metadata()
	return arrow.NewSchema(fields, &md), resIdx, statusIdx
}

func schema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	in := inputs[0]
	for _, t := range templates(cfg) {
		if _, err := t.tpl.Bind(name, t.key, in); err != nil {
			return nil, err
		}
	}
	out, _, _ := outSchema(cfg, in)
	return out, nil
}

type keyedTemplate struct {
	key    string // parameter name
	header string // header name, for headers
	tpl    *httpx.Template
}

// templates parses the stage's templates: url, then headers in key
// order, then body.
func templates(cfg flow.Config) []keyedTemplate {
	out := []keyedTemplate{{key: "url", tpl: httpx.ParseTemplate(cfg.Str("url"), httpx.EscapeURL)}}
	for _, k := range cfg.SortedKeys("headers") {
		out = append(out, keyedTemplate{key: "headers", header: k, tpl: httpx.ParseTemplate(fmt.Sprint(cfg.Table("headers")[k]), httpx.EscapeRaw)})
	}
	if cfg.Has("body") {
		esc := httpx.EscapeJSON
		switch cfg.Str("body_escape") {
		case "raw":
			esc = httpx.EscapeRaw
		case "url":
			esc = httpx.EscapeURLQuery
		}
		out = append(out, keyedTemplate{key: "body", tpl: httpx.ParseTemplate(cfg.Str("body"), esc)})
	}
	return out
}
