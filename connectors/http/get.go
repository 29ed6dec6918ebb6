package httpconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx"
)

// Pagination kinds of http.get.
const (
	pageNone   = "none"
	pageNumber = "page"
	pageOffset = "offset"
	pageCursor = "cursor"
	pageLink   = "link"
)

// errDrained ends a fetch when the pipeline drains (after the page being
// read was emitted).
var errDrained = errors.New("drained")

// GetSpec is the spec of http.get.
func GetSpec() *flow.Spec {
	params := []flow.Param{
		{Name: "url", Type: flow.TypeString, Required: true,
			Doc: "URL to GET (http or https). Pipeline variables ({{name}}) and ${ENV} are substituted when the file is loaded."},
		{Name: "query", Type: flow.TypeTable,
			Doc: "Query parameters added to the URL, name → value (values are URL-encoded; they never appear in errors or logs)."},
		{Name: "pagination", Type: flow.TypeString, Default: pageNone, Allowed: []string{pageNone, pageNumber, pageOffset, pageCursor, pageLink},
			Doc: "none: one request. page: page_param = start_page, start_page+1, … until a page has no record (or fewer than limit). " +
				"offset: offset_param = 0, n, 2n, … with limit_param = limit until a page has fewer than limit records. " +
				"cursor: cursor_param = the value found at cursor_path in the previous response, until it is absent, null or empty. " +
				"link: the URL of the Link header's rel=\"next\" (RFC 8288, as GitHub's API sends), until there is none."},
		{Name: "page_param", Type: flow.TypeString, Default: "page", Doc: "pagination = page: the query parameter holding the page number."},
		{Name: "start_page", Type: flow.TypeInt, Default: int64(1), Min: flow.F(0), Doc: "pagination = page: the first page number."},
		{Name: "offset_param", Type: flow.TypeString, Default: "offset", Doc: "pagination = offset: the query parameter holding the offset of the first record."},
		{Name: "limit_param", Type: flow.TypeString, Default: "limit",
			Doc: "pagination = page or offset: the query parameter holding the page size (sent when limit is set)."},
		{Name: "limit", Type: flow.TypeInt, Min: flow.F(1),
			Doc: "Page size asked for with limit_param; a page with fewer records is the last. Required with pagination = offset."},
		{Name: "cursor_param", Type: flow.TypeString, Default: "cursor", Doc: "pagination = cursor: the query parameter holding the cursor of the next page."},
		{Name: "cursor_path", Type: flow.TypeString,
			Doc: "pagination = cursor: dotted path to the next page's cursor in the JSON response, e.g. \"meta.next_cursor\". Required with pagination = cursor."},
		{Name: "max_pages", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0),
			Doc: "Most pages read per run (per poll in stream mode), a guard against endless pagination. 0: no limit."},
		{Name: "poll_interval", Type: flow.TypeDuration, Min: flow.F(0.001),
			Doc: "Stream mode: after the last page, wait this long and read the pages again, forever (the stage is then unbounded: run it with `conveyor stream`)."},
		{Name: "cursor_column", Type: flow.TypeString,
			Doc: "Stream mode: a column that grows with new records (an id, a created_at): a poll emits only the records whose value is greater than the largest one seen before it. Absent: every poll emits every record."},
		{Name: "since_param", Type: flow.TypeString,
			Doc: "Stream mode, with cursor_column: a query parameter sent on every poll after the first with the largest cursor_column value seen (e.g. \"updated_after\"), so the API returns only newer records."},
	}
	params = append(params, bodyParams("response")...)
	params = append(params, httpx.Params()...)
	return &flow.Spec{
		Name: "http.get", Kind: flow.KindSource,
		Summary: "Read records from an HTTP API: JSON, JSON lines or CSV responses, paginated, once or polled",
		Description: `http.get sends GET requests to url (with headers and query) and turns each response page
into a batch. JSON responses hold the records as an array (or one object) at records_path;
jsonl and csv responses are read whole. Pagination follows page numbers, offsets, a cursor
found in the response, or the Link header, and stops after the last page (see pagination).

The schema is inferred from the first page (with schema's overrides) and kept: a later
record with a key the schema lacks, or a value of another type, is rejected with its
location ("<url> (page 2) record 5"): it stops the run, or reaches the errors port or the
dead-letter output under the continue strategy. Every request goes through the shared
HTTP client: per-attempt timeout, retries with backoff on 408/429/5xx and network errors
(honouring Retry-After), rate_limit, headers and a bearer token from bearer_token_env; a
final error status fails the run with the status and an excerpt of the body.

Without poll_interval the stage is bounded: it ends after the last page. With it, it
polls: after the last page it waits poll_interval (on the pipeline clock) and reads the
pages again, emitting only the records newer than those seen (cursor_column). A failed
poll stops the run under the stop strategy; under continue or retry it is logged and
tried again at the next poll. When the pipeline drains, the page being read is emitted
and the stage ends.

In examples, https://api.example.com is served by NewExampleServer.`,
		Tags:      []string{"http", "api", "stream"},
		Params:    params,
		Check:     checkGet,
		Unbounded: func(cfg flow.Config) bool { return cfg.Duration("poll_interval") > 0 },
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return newGetter(cfg, env)
		},
		Examples: []flow.Example{
			{
				Title: "Page-numbered API, records inside an envelope",
				Config: "url = \"https://api.example.com/v1/users\"\nrecords_path = \"data.items\"\npagination = \"page\"\n" +
					"page_param = \"page\"\nlimit_param = \"per_page\"\nlimit = 2",
				Output: `{"id":1,"name":"ana"}` + "\n" + `{"id":2,"name":"bo"}` + "\n" + `{"id":3,"name":"cy"}` + "\n" +
					`{"id":4,"name":"dee"}` + "\n" + `{"id":5,"name":"eli"}` + "\n",
			},
			{
				Title:  "Cursor pagination: the next cursor is in the response",
				Config: "url = \"https://api.example.com/v1/events\"\nrecords_path = \"events\"\npagination = \"cursor\"\ncursor_param = \"after\"\ncursor_path = \"meta.next\"",
				Output: `{"seq":1,"kind":"click"}` + "\n" + `{"seq":2,"kind":"view"}` + "\n" + `{"seq":3,"kind":"click"}` + "\n",
			},
			{
				Title:  "Offset pagination with a query, CSV responses",
				Config: "url = \"https://api.example.com/v1/readings.csv\"\nformat = \"csv\"\npagination = \"offset\"\nlimit = 2\nquery = {station = \"oslo\"}",
				Output: `{"station":"oslo","temp":20.5}` + "\n" + `{"station":"oslo","temp":21}` + "\n" + `{"station":"oslo","temp":19.75}` + "\n",
			},
			{
				Title:  "Link header pagination, JSON lines",
				Config: "url = \"https://api.example.com/v1/logs\"\nformat = \"jsonl\"\npagination = \"link\"",
				Output: `{"level":"info","msg":"up"}` + "\n" + `{"level":"warn","msg":"slow"}` + "\n" + `{"level":"info","msg":"ok"}` + "\n",
			},
		},
	}
}

func checkGet(cfg flow.Config) []*flow.ConfigError {
	errs := checkBodyParams(cfg)
	add := func(key, format string, args ...any) {
		errs = append(errs, &flow.ConfigError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	if u, err := url.Parse(cfg.Str("url")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("url", "%q is not an http or https URL", httpx.RedactURL(cfg.Str("url")))
	}
	switch cfg.Str("pagination") {
	case pageOffset:
		if cfg.Int("limit") <= 0 {
			add("limit", "required with pagination = \"offset\" (the page size)")
		}
	case pageCursor:
		if strings.TrimSpace(cfg.Str("cursor_path")) == "" {
			add("cursor_path", "required with pagination = \"cursor\" (where the next cursor is in the response)")
		}
		if f := cfg.Str("format"); f != "" && f != formatJSON {
			add("pagination", "cursor pagination reads the cursor from a JSON response: it needs format = \"json\"")
		}
	}
	if cfg.Has("cursor_column") && cfg.Duration("poll_interval") <= 0 {
		add("cursor_column", "only applies when polling (set poll_interval)")
	}
	if cfg.Has("since_param") && !cfg.Has("cursor_column") {
		add("since_param", "needs cursor_column (its largest value is what is sent)")
	}
	return errs
}

// getter is the http.get operator.
type getter struct {
	base        *url.URL
	query       url.Values
	pagination  string
	pageParam   string
	startPage   int
	offsetParam string
	limitParam  string
	limit       int
	cursorParam string
	cursorPath  []string
	maxPages    int
	poll        time.Duration
	cursorCol   string
	sinceParam  string
	dec         *decoder
	client      httpx.Options

	// Stream state: the largest cursor_column value seen.
	seen *cursorValue
}

func newGetter(cfg flow.Config, env flow.BuildEnv) (*getter, error) {
	bo, err := bodyOptionsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	copts, err := httpx.FromConfig(cfg, env)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(cfg.Str("url"))
	if err != nil {
		return nil, &flow.ParamError{Key: "url", Err: fmt.Errorf("%q is not a URL", httpx.RedactURL(cfg.Str("url")))}
	}
	g := &getter{
		base: base, query: url.Values{},
		pagination: cfg.Str("pagination"), pageParam: cfg.Str("page_param"), startPage: cfg.Int("start_page"),
		offsetParam: cfg.Str("offset_param"), limitParam: cfg.Str("limit_param"), limit: cfg.Int("limit"),
		cursorParam: cfg.Str("cursor_param"), maxPages: cfg.Int("max_pages"),
		poll: cfg.Duration("poll_interval"), cursorCol: cfg.Str("cursor_column"), sinceParam: cfg.Str("since_param"),
		dec: newDecoder(bo, "page"), client: copts,
	}
	if g.pagination == "" {
		g.pagination = pageNone
	}
	if p := strings.TrimSpace(cfg.Str("cursor_path")); p != "" {
		g.cursorPath = strings.Split(p, ".")
	}
	for _, k := range cfg.SortedKeys("query") {
		g.query.Set(k, queryText(cfg.Table("query")[k]))
	}
	return g, nil
}

func queryText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// Run reads every page once, or polls.
func (g *getter) Run(ctx context.Context, st *flow.Stage) error {
	return stageErr(st, g.run(ctx, st))
}

func (g *getter) run(ctx context.Context, st *flow.Stage) error {
	client := httpx.New(g.client)
	defer client.Close()
	for poll := 1; ; poll++ {
		err := g.fetch(ctx, st, client)
		if errors.Is(err, errDrained) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if g.poll <= 0 || st.Strategy() == flow.StrategyStop {
				return err
			}
			st.Logger.Warn("http.get: poll failed; trying again at the next poll", "poll", poll, "error", err.Error())
		}
		if g.poll <= 0 {
			return nil
		}
		t := st.Clock.Timer(g.poll)
		select {
		case <-t.C:
		case <-st.Draining():
			t.Stop()
			return nil
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// fetch reads every page once. The largest cursor_column value is only
// remembered once every page was read: pages need not be in order, and a
// poll that fails half way is read again whole (at least once).
func (g *getter) fetch(ctx context.Context, st *flow.Stage, client *httpx.Client) (err error) {
	var polled *cursorValue
	defer func() {
		if err == nil && polled != nil && (g.seen == nil || polled.greater(g.seen)) {
			g.seen = polled
		}
	}()
	page, offset, cursor := g.startPage, 0, ""
	next := ""
	for n := 1; ; n++ {
		if g.maxPages > 0 && n > g.maxPages {
			st.Logger.Warn("http.get: stopped at max_pages", "max_pages", g.maxPages)
			break
		}
		u := next
		if u == "" {
			q := g.base.Query()
			for k, vs := range g.query {
				q[k] = vs
			}
			switch g.pagination {
			case pageNumber:
				q.Set(g.pageParam, strconv.Itoa(page))
				if g.limit > 0 {
					q.Set(g.limitParam, strconv.Itoa(g.limit))
				}
			case pageOffset:
				q.Set(g.offsetParam, strconv.Itoa(offset))
				q.Set(g.limitParam, strconv.Itoa(g.limit))
			case pageCursor:
				if cursor != "" {
					q.Set(g.cursorParam, cursor)
				}
			}
			if g.sinceParam != "" && g.seen != nil {
				q.Set(g.sinceParam, g.seen.text)
			}
			pu := *g.base
			pu.RawQuery = q.Encode()
			u = pu.String()
		}
		before := client.Stats().Retries
		resp, err := client.Do(ctx, http.MethodGet, u, nil, nil)
		st.Metrics().Retries.Add(client.Stats().Retries - before)
		if err != nil {
			return fmt.Errorf("http.get: page %d: %w", n, err)
		}
		st.Metrics().BytesRead.Add(int64(len(resp.Body)))
		where := fmt.Sprintf("%s (page %d)", httpx.RedactURL(u), n)
		b, bad, err := g.dec.decode(ctx, st.Alloc, st.Clock, resp.Body, false)
		if err != nil {
			var pe *flow.ParamError
			if errors.As(err, &pe) {
				return err
			}
			return fmt.Errorf("http.get: %s: %w", where, err)
		}
		for _, r := range bad {
			rej := flow.Rejection{Err: r.err, Source: where + " " + r.where, Raw: r.raw, Row: r.row}
			if err := st.Reject(ctx, rej); err != nil {
				if b != nil {
					b.Release()
				}
				return err
			}
		}
		count := len(bad)
		if b != nil {
			count += int(b.NumRows())
			if g.cursorCol != "" {
				var max *cursorValue
				b, max, err = g.newer(st, b)
				if err != nil {
					return err
				}
				if max != nil && (polled == nil || max.greater(polled)) {
					polled = max
				}
			}
			if err := st.Emit(ctx, b); err != nil {
				return err
			}
		}
		if isClosed(st.Draining()) {
			return errDrained
		}
		// The next page, if any.
		switch g.pagination {
		case pageNumber:
			if count == 0 || (g.limit > 0 && count < g.limit) {
				return nil
			}
			page++
		case pageOffset:
			if count == 0 || count < g.limit {
				return nil
			}
			offset += count
		case pageCursor:
			c, found, err := cursorAt(resp.Body, g.cursorPath)
			if err != nil {
				return fmt.Errorf("http.get: %s: cursor_path: %w", where, err)
			}
			if !found && n == 1 {
				st.Logger.Warn("http.get: cursor_path not found in the first response: reading one page only", "cursor_path", strings.Join(g.cursorPath, "."))
			}
			if c == "" || count == 0 {
				return nil
			}
			if c == cursor {
				return fmt.Errorf("http.get: %s: the cursor at cursor_path %q did not change (%d characters): the API would be read forever", where, strings.Join(g.cursorPath, "."), len(c))
			}
			cursor = c
		case pageLink:
			nu, err := nextLink(resp.Header, u)
			if err != nil {
				return fmt.Errorf("http.get: %s: Link header: %w", where, err)
			}
			if nu == "" {
				return nil
			}
			if nu == u {
				return fmt.Errorf("http.get: %s: the Link header's next page is the page itself", where)
			}
			next = nu
		default:
			return nil
		}
	}
	return nil
}

// cursorAt returns the cursor found at path in a JSON body ("" when it is
// absent, null or empty; found is false when a key of path is missing).
func cursorAt(body []byte, path []string) (cursor string, found bool, err error) {
	raw, err := locate(body, path)
	if err != nil {
		if strings.Contains(err.Error(), "has no key") {
			return "", false, nil // no next cursor on the last page
		}
		return "", false, err
	}
	if len(raw) == 0 || string(raw) == "null" {
		return "", true, nil
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", true, err
	}
	switch x := v.(type) {
	case string:
		return x, true, nil
	case json.Number:
		return x.String(), true, nil
	}
	return "", true, fmt.Errorf("the value at %q is not a string or a number", strings.Join(path, "."))
}

// nextLink returns the rel="next" target of the Link headers, resolved
// against the request's URL ("" when there is none).
func nextLink(h http.Header, requested string) (string, error) {
	for _, line := range h.Values("Link") {
		for _, part := range splitLinks(line) {
			part = strings.TrimSpace(part)
			if !strings.HasPrefix(part, "<") {
				continue
			}
			end := strings.Index(part, ">")
			if end < 0 {
				return "", fmt.Errorf("unterminated <...> in %q", part)
			}
			target := part[1:end]
			for _, p := range strings.Split(part[end+1:], ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
					if strings.EqualFold(rel, "next") {
						base, err := url.Parse(requested)
						if err != nil {
							return "", err
						}
						ref, err := url.Parse(target)
						if err != nil {
							return "", fmt.Errorf("next link %q: %v", httpx.RedactURL(target), err)
						}
						return base.ResolveReference(ref).String(), nil
					}
				}
			}
		}
	}
	return "", nil
}

// splitLinks splits a Link header value at the commas between links (not
// those inside <...> or quotes).
func splitLinks(s string) []string {
	var out []string
	inURL, inQuote, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<' && !inQuote:
			inURL = true
		case c == '>' && !inQuote:
			inURL = false
		case c == '"' && !inURL:
			inQuote = !inQuote
		case c == ',' && !inURL && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// cursorValue is a value of cursor_column, comparable within its type.
type cursorValue struct {
	i    int64
	f    float64
	s    string
	kind byte // 'i', 'f' or 's'
	text string
}

func (a *cursorValue) greater(b *cursorValue) bool {
	switch a.kind {
	case 'i':
		return a.i > b.i
	case 'f':
		return a.f > b.f
	}
	return a.s > b.s
}

// cursorReader reads cursor_column values of one column.
func cursorReader(arr arrow.Array) (func(i int) cursorValue, error) {
	switch a := arr.(type) {
	case *array.Int64:
		return func(i int) cursorValue { return cursorValue{i: a.Value(i), kind: 'i'} }, nil
	case *array.Int32:
		return func(i int) cursorValue { return cursorValue{i: int64(a.Value(i)), kind: 'i'} }, nil
	case *array.Float64:
		return func(i int) cursorValue { return cursorValue{f: a.Value(i), kind: 'f'} }, nil
	case *array.Timestamp:
		return func(i int) cursorValue { return cursorValue{i: int64(a.Value(i)), kind: 'i'} }, nil
	case *array.Date32:
		return func(i int) cursorValue { return cursorValue{i: int64(a.Value(i)), kind: 'i'} }, nil
	case *array.String:
		return func(i int) cursorValue { return cursorValue{s: a.Value(i), kind: 's'} }, nil
	}
	return nil, fmt.Errorf("has type %s: use an integer, float, string, timestamp or date column", batch.TypeName(arr.DataType()))
}

// newer keeps the rows of b whose cursor_column value is greater than the
// largest seen before this poll (all of them on the first poll; rows with
// a null value only then), and returns the largest value in b. b is
// consumed; the result is owned by the caller (nil when no row is kept).
func (g *getter) newer(st *flow.Stage, b arrow.RecordBatch) (arrow.RecordBatch, *cursorValue, error) {
	idx := b.Schema().FieldIndices(g.cursorCol)
	if len(idx) == 0 {
		names := fieldNames(b.Schema())
		b.Release()
		return nil, nil, &flow.ParamError{Key: "cursor_column", Err: fmt.Errorf("%q is not a column of the response (columns: %s)", g.cursorCol, strings.Join(names, ", "))}
	}
	col := b.Column(idx[0])
	read, err := cursorReader(col)
	if err != nil {
		b.Release()
		return nil, nil, &flow.ParamError{Key: "cursor_column", Err: fmt.Errorf("%q %v", g.cursorCol, err)}
	}
	var max *cursorValue
	var runs []arrow.RecordBatch
	defer func() {
		for _, r := range runs {
			r.Release()
		}
	}()
	start := -1
	n := int(b.NumRows())
	for i := 0; i <= n; i++ {
		keep := false
		if i < n {
			if col.IsNull(i) {
				keep = g.seen == nil
			} else {
				v := read(i)
				if max == nil || v.greater(max) {
					v.text = batch.FormatValue(col, i)
					max = &v
				}
				keep = g.seen == nil || v.greater(g.seen)
			}
		}
		if keep && start < 0 {
			start = i
		}
		if !keep && start >= 0 {
			runs = append(runs, b.NewSlice(int64(start), int64(i)))
			start = -1
		}
	}
	if len(runs) == 1 && runs[0].NumRows() == int64(n) {
		b.Release()
		out := runs[0]
		runs = nil
		return out, max, nil
	}
	defer b.Release()
	if len(runs) == 0 {
		return nil, max, nil
	}
	out, err := batch.Concat(st.Alloc, runs)
	if err != nil {
		return nil, nil, err
	}
	return out, max, nil
}
