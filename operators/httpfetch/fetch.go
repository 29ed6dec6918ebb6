package httpfetch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx"
	"github.com/conveyor-etl/conveyor/operators"
)

// ErrBadBatchResponse is wrapped by the rejection of rows whose batch-mode
// answer is not an array of one element per row.
var ErrBadBatchResponse = errors.New("batch response does not match the rows sent")

type fetch struct {
	cfg         flow.Config
	method      string
	tpls        []keyedTemplate
	batchMode   bool
	batchSize   int
	respPath    []string
	concurrency int
	jsonBody    bool // set Content-Type: application/json when absent
	hasCT       bool
	client      *httpx.Client
	cache       *cache

	// bound to the current input schema
	inSchema  *arrow.Schema
	bound     []*httpx.Bound
	out       *arrow.Schema
	resIdx    int
	statusIdx int

	rows, rejected int64
	retriesSeen    int64
}

func newFetch(cfg flow.Config, env flow.BuildEnv) (any, error) {
	opts, err := httpx.FromConfig(cfg, env)
	if err != nil {
		return nil, err
	}
	opts.Headers = nil // templated: rendered per request
	f := &fetch{
		cfg:         cfg,
		method:      cfg.Str("method"),
		tpls:        templates(cfg),
		batchMode:   cfg.Str("mode") == "batch",
		batchSize:   cfg.Int("batch_size"),
		concurrency: cfg.Int("concurrency"),
		jsonBody:    cfg.Has("body") && cfg.Str("body_escape") == "json" || cfg.Str("mode") == "batch",
		client:      httpx.New(opts),
	}
	if f.concurrency < 1 {
		f.concurrency = 1
	}
	if p := cfg.Str("response_path"); p != "" {
		f.respPath = strings.Split(p, ".")
	}
	for _, t := range f.tpls {
		if t.header != "" && strings.EqualFold(t.header, "Content-Type") {
			f.hasCT = true
		}
	}
	if n := cfg.Int("cache_size"); n > 0 {
		clk := env.Clock
		if clk == nil {
			clk = clock.New()
		}
		f.cache = newCache(n, cfg.Duration("cache_ttl"), clk)
	}
	return f, nil
}

// Run forwards watermarks and barriers in place and replaces each data
// batch by its enriched rows.
func (f *fetch) Run(ctx context.Context, st *flow.Stage) error {
	defer f.client.Close()
	err := st.MapBatches(ctx, func(in arrow.RecordBatch) (arrow.RecordBatch, error) {
		return f.process(ctx, st, in)
	})
	if err == nil {
		f.logSummary(st)
	}
	return err
}

// Summary is what the stage reports at the end of its input.
type Summary struct {
	Rows, Rejected               int64
	Requests, Retries, RateWaits int64
	CacheHits, CacheMisses       int64
}

func (f *fetch) summary() Summary {
	s := f.client.Stats()
	out := Summary{Rows: f.rows, Rejected: f.rejected, Requests: s.Requests, Retries: s.Retries, RateWaits: s.RateWaits}
	if f.cache != nil {
		out.CacheHits, out.CacheMisses = f.cache.hits.Load(), f.cache.misses.Load()
	}
	return out
}

func (f *fetch) logSummary(st *flow.Stage) {
	s := f.summary()
	args := []any{"rows", s.Rows, "requests", s.Requests, "retries", s.Retries, "rejected", s.Rejected}
	if s.RateWaits > 0 {
		args = append(args, "rate_limited", s.RateWaits)
	}
	if f.cache != nil {
		args = append(args, "cache_hits", s.CacheHits, "cache_misses", s.CacheMisses)
	}
	st.Logger.Info(name+" finished", args...)
}

// job is one request: a row (per_row) or a group of rows (batch).
type job struct {
	lo, hi int // rows [lo, hi)
}

// rowResult is the outcome for one row.
type rowResult struct {
	status int
	body   []byte // nil: null
	err    error
}

func (f *fetch) bind(in *arrow.Schema) error {
	if f.inSchema != nil && f.inSchema.Equal(in) {
		return nil
	}
	f.bound = f.bound[:0]
	for _, t := range f.tpls {
		b, err := t.tpl.Bind(name, t.key, in)
		if err != nil {
			return err
		}
		f.bound = append(f.bound, b)
	}
	f.out, f.resIdx, f.statusIdx = outSchema(f.cfg, in)
	f.inSchema = in
	return nil
}

func (f *fetch) process(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := f.bind(in.Schema()); err != nil {
		return nil, fmt.Errorf("stage %q: %w", st.ID, err)
	}
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	var jobs []job
	if f.batchMode {
		size := f.batchSize
		if size <= 0 {
			size = n
		}
		for lo := 0; lo < n; lo += size {
			jobs = append(jobs, job{lo, min(lo+size, n)})
		}
	} else {
		jobs = make([]job, n)
		for i := range jobs {
			jobs[i] = job{i, i + 1}
		}
	}
	results := make([]rowResult, n)

	// Under "stop" the first failing job (in row order) ends the batch:
	// jobs after it are cancelled or not started, so the failure reported
	// is the first in the input whatever the completion order.
	stop := &stopper{at: len(jobs), cancels: map[int]context.CancelFunc{}, enabled: st.Strategy() == flow.StrategyStop}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(f.concurrency, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1)) - 1
				if j >= len(jobs) {
					return
				}
				jctx, ok := stop.start(ctx, j)
				if !ok {
					return
				}
				stop.finish(j, f.run(jctx, in, jobs[j], results))
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	var drop []int32
	for i := range results {
		r := &results[i]
		if r.err == nil {
			continue
		}
		drop = append(drop, int32(i))
		f.rejected++
		rej := flow.Rejection{Err: r.err, Source: "input row " + strconv.FormatInt(f.rows+int64(i)+1, 10), Row: batch.Row(in, i)}
		if err := st.Reject(ctx, rej); err != nil {
			return nil, err
		}
	}
	f.rows += int64(n)
	stats := f.client.Stats()
	st.Metrics().Retries.Add(stats.Retries - f.retriesSeen)
	f.retriesSeen = stats.Retries
	return f.assemble(ctx, st, in, results, drop)
}

// stopper cancels, under the "stop" strategy, the jobs after the first
// failed one.
type stopper struct {
	enabled bool
	mu      sync.Mutex
	at      int // first failed job so far (len(jobs): none)
	cancels map[int]context.CancelFunc
}

// start returns the context of job j, or false when an earlier job failed.
func (s *stopper) start(ctx context.Context, j int) (context.Context, bool) {
	if !s.enabled {
		return ctx, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if j > s.at {
		return nil, false
	}
	jctx, cancel := context.WithCancel(ctx)
	s.cancels[j] = cancel
	return jctx, true
}

func (s *stopper) finish(j int, failed bool) {
	if !s.enabled {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cancels[j]()
	delete(s.cancels, j)
	if failed && j < s.at {
		s.at = j
		for k, cancel := range s.cancels {
			if k > j {
				cancel()
			}
		}
	}
}

// run performs one job and stores its rows' results; it reports whether
// the job failed.
func (f *fetch) run(ctx context.Context, in arrow.RecordBatch, j job, results []rowResult) (failed bool) {
	fail := func(err error) bool {
		for i := j.lo; i < j.hi; i++ {
			results[i] = rowResult{err: err}
		}
		return true
	}
	url, header, body, err := f.render(in, j)
	if err != nil {
		return fail(err)
	}
	do := func() answer {
		resp, err := f.client.Do(ctx, f.method, url, header, body)
		if err != nil {
			return answer{err: err}
		}
		return answer{status: resp.Status, body: resp.Body}
	}
	var ans answer
	if f.cache != nil {
		var key bytes.Buffer
		key.WriteString(f.method)
		key.WriteByte(0)
		key.WriteString(url)
		for _, k := range sortedHeaderKeys(header) {
			key.WriteByte(0)
			key.WriteString(k + ":" + strings.Join(header[k], ","))
		}
		key.WriteByte(0)
		key.Write(body)
		ans, _ = f.cache.get(ctx, key.String(), do)
	} else {
		ans = do()
	}
	if ans.err != nil {
		return fail(ans.err)
	}
	if !f.batchMode {
		results[j.lo] = rowResult{status: ans.status, body: normalizeBody(ans.body)}
		return false
	}
	elems, err := f.splitBatchAnswer(ans.body, j.hi-j.lo)
	if err != nil {
		return fail(fmt.Errorf("%s %s: %w: %v", f.method, httpx.RedactURL(url), ErrBadBatchResponse, err))
	}
	for i, e := range elems {
		results[j.lo+i] = rowResult{status: ans.status, body: normalizeBody(e)}
	}
	return false
}

func sortedHeaderKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	// few keys: insertion sort
	for i := 1; i < len(keys); i++ {
		for k := i; k > 0 && keys[k] < keys[k-1]; k-- {
			keys[k], keys[k-1] = keys[k-1], keys[k]
		}
	}
	return keys
}

// render builds a job's request from its rows.
func (f *fetch) render(in arrow.RecordBatch, j job) (url string, header http.Header, body []byte, err error) {
	var buf []byte
	for ti, t := range f.tpls {
		b := f.bound[ti]
		switch t.key {
		case "url":
			if buf, err = b.Render(buf[:0], in, j.lo); err != nil {
				return
			}
			url = string(buf)
		case "headers":
			if buf, err = b.Render(buf[:0], in, j.lo); err != nil {
				return
			}
			if header == nil {
				header = http.Header{}
			}
			header.Set(t.header, string(buf))
		case "body":
			if !f.batchMode {
				if body, err = b.Render(nil, in, j.lo); err != nil {
					return
				}
				continue
			}
			body = append(body, '[')
			for i := j.lo; i < j.hi; i++ {
				if i > j.lo {
					body = append(body, ',')
				}
				if body, err = b.Render(body, in, i); err != nil {
					return
				}
			}
			body = append(body, ']')
		}
	}
	if f.batchMode && body == nil {
		body = append(body, '[')
		for i := j.lo; i < j.hi; i++ {
			if i > j.lo {
				body = append(body, ',')
			}
			body = batch.AppendRowJSON(body, in, i)
		}
		body = append(body, ']')
	}
	if f.jsonBody && !f.hasCT && body != nil {
		if header == nil {
			header = http.Header{}
		}
		header.Set("Content-Type", "application/json")
	}
	return url, header, body, nil
}

// splitBatchAnswer returns the n elements of a batch-mode answer.
func (f *fetch) splitBatchAnswer(body []byte, n int) ([]json.RawMessage, error) {
	doc := json.RawMessage(body)
	for _, step := range f.respPath {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("response_path step %q: the value is not an object", step)
		}
		v, ok := obj[step]
		if !ok {
			return nil, fmt.Errorf("response_path step %q: no such key", step)
		}
		doc = v
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(doc, &elems); err != nil {
		return nil, fmt.Errorf("the answer is not a JSON array: %q", httpx.Excerpt(doc, httpx.ExcerptBytes))
	}
	if len(elems) != n {
		return nil, fmt.Errorf("%d elements for %d rows", len(elems), n)
	}
	return elems, nil
}

// normalizeBody compacts a JSON body; any other body is kept as is; an
// empty body is nil (null).
func normalizeBody(b []byte) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var c bytes.Buffer
	if json.Valid(b) && json.Compact(&c, b) == nil {
		return c.Bytes()
	}
	return b
}

// assemble builds the output batch: the input columns plus result (and
// status), without the dropped rows.
func (f *fetch) assemble(ctx context.Context, st *flow.Stage, in arrow.RecordBatch, results []rowResult, drop []int32) (arrow.RecordBatch, error) {
	mem := st.Alloc
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	var ib *array.Int64Builder
	if f.statusIdx >= 0 {
		ib = array.NewInt64Builder(mem)
		defer ib.Release()
	}
	for _, r := range results {
		if r.err != nil || r.body == nil {
			sb.AppendNull()
		} else {
			sb.BinaryBuilder.Append(r.body)
		}
		if ib != nil {
			if r.err != nil {
				ib.AppendNull()
			} else {
				ib.Append(int64(r.status))
			}
		}
	}
	res := sb.NewArray()
	defer res.Release()
	var status arrow.Array
	if ib != nil {
		status = ib.NewArray()
		defer status.Release()
	}
	cols := make([]arrow.Array, f.out.NumFields())
	copy(cols, in.Columns())
	cols[f.resIdx] = res
	if status != nil {
		cols[f.statusIdx] = status
	}
	full := array.NewRecordBatch(f.out, cols, in.NumRows())
	defer full.Release()
	return operators.DropRows(ctx, mem, full, drop)
}
