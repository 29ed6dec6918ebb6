package ai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx"
	"github.com/conveyor-etl/conveyor/operators"
)

// generate is the running ai.generate stage.
type generate struct {
	s        *settings
	opts     httpx.Options
	key      string
	endpoint string
	clock    clock.Clock
	cacheDir string // resolved against the pipeline's directory

	// onTokenWait, when set, is called before each wait of the
	// tokens-per-minute limiter (tests advance a mock clock on it).
	onTokenWait func(time.Duration)

	client *httpx.Client
	cache  *diskCache
	budget *budget
	tpm    *tokenLimiter

	// bound to the current input schema
	inSchema         *arrow.Schema
	promptB, systemB *httpx.Bound
	out              *arrow.Schema
	outIdx           int
	fieldIdx         []int
	fieldSchema      *arrow.Schema

	rows, rejected, invalid, budgetRejected int64
	retriesSeen                             int64
	budgetLogged                            bool

	calls, failed, hits, inTok, outTok atomic.Int64
	noUsageWarned                      atomic.Bool
}

func newGenerate(cfg flow.Config, env flow.BuildEnv) (any, error) {
	s, err := parseSettings(cfg)
	if err != nil {
		return nil, err
	}
	opts, err := httpx.FromConfig(cfg, env)
	if err != nil {
		return nil, err
	}
	opts.RateLimit, opts.Burst = 0, 0
	if s.rpm > 0 {
		opts.RateLimit = s.rpm / 60
	}
	g := &generate{s: s, opts: opts, clock: env.Clock, endpoint: s.prov.endpoint(cfg.Str("api_base_url"))}
	if g.clock == nil {
		g.clock = clock.New()
	}
	g.opts.Clock = g.clock
	if s.cacheDir != "" {
		g.cacheDir = env.Path(s.cacheDir)
	}
	// The key: from api_key_env, or the provider's usual variable.
	if v := cfg.Str("api_key_env"); v != "" {
		g.key = os.Getenv(v)
		if g.key == "" {
			return nil, &flow.ParamError{Key: "api_key_env", Err: fmt.Errorf("environment variable %s is not set or empty", v)}
		}
	} else if s.prov.keyEnv != "" {
		g.key = os.Getenv(s.prov.keyEnv)
		if g.key == "" && cfg.Str("api_base_url") == "" {
			return nil, &flow.ParamError{Key: "api_key_env", Err: fmt.Errorf(
				"environment variable %s is not set or empty: %s needs an API key (set it, or name another variable with api_key_env)",
				s.prov.keyEnv, s.prov.name)}
		}
	}
	return g, nil
}

// Run forwards watermarks and barriers in place and replaces each data
// batch by its rows with the answers.
func (g *generate) Run(ctx context.Context, st *flow.Stage) error {
	g.client = httpx.New(g.opts)
	defer g.client.Close()
	if g.cacheDir != "" {
		g.cache = newDiskCache(g.cacheDir)
	}
	if g.s.budget > 0 {
		g.budget = newBudget(g.s.budget)
	}
	if g.s.tpm > 0 {
		g.tpm = newTokenLimiter(g.clock, g.s.tpm, g.onTokenWait)
	}
	defer g.logSummary(st)
	return st.MapBatches(ctx, func(in arrow.RecordBatch) (arrow.RecordBatch, error) {
		return g.process(ctx, st, in)
	})
}

// Counts returns the stage's own usage so far.
func (g *generate) counts() UsageCounts {
	return UsageCounts{Calls: g.calls.Load(), Failed: g.failed.Load(), CacheHits: g.hits.Load(),
		InputTokens: g.inTok.Load(), OutputTokens: g.outTok.Load()}
}

func (g *generate) logSummary(st *flow.Stage) {
	c := g.counts()
	args := []any{"provider", g.s.prov.name, "model", g.s.model, "rows", g.rows,
		"calls", c.Calls, "cache_hits", c.CacheHits, "input_tokens", c.InputTokens, "output_tokens", c.OutputTokens,
		"failed_calls", c.Failed, "rejected", g.rejected}
	if g.client != nil {
		args = append(args, "retries", g.client.Stats().Retries)
	}
	if g.budget != nil {
		used, _ := g.budget.state()
		args = append(args, "budget", g.s.budget, "budget_used", used)
	}
	st.Logger.Info(name+" finished", args...)
}

// resultKind tells what became of a row.
type resultKind uint8

const (
	kindOK      resultKind = iota
	kindEmpty              // empty prompt: null outputs, no call
	kindFailed             // the call failed: rejected per on_error
	kindInvalid            // invalid JSON twice: dead-lettered
	kindBudget             // no call for lack of budget
	kindSkipped            // not attempted: an earlier row stops the batch
)

// outcome is what became of one row's request.
type outcome struct {
	kind resultKind
	hit  bool           // answered from the cache
	text string         // output_column's value
	obj  map[string]any // JSON mode: the answer's object
	raw  string         // the answer as received (cached)
	in   int64          // tokens, for the cache
	out  int64
	err  error
}

func (g *generate) bind(in *arrow.Schema) error {
	if g.inSchema != nil && g.inSchema.Equal(in) {
		return nil
	}
	p, s, err := g.s.bind(in)
	if err != nil {
		return err
	}
	g.promptB, g.systemB = p, s
	g.out, g.outIdx, g.fieldIdx = g.s.outSchema(in)
	if len(g.s.fields) > 0 {
		g.fieldSchema = arrow.NewSchema(g.s.fields, nil)
	}
	g.inSchema = in
	return nil
}

// requests renders each row's request (nil when its prompt is empty).
func (g *generate) requests(in arrow.RecordBatch) ([]*callRequest, error) {
	n := int(in.NumRows())
	reqs := make([]*callRequest, n)
	var buf []byte
	var err error
	for i := range n {
		if buf, err = g.promptB.Render(buf[:0], in, i); err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(buf)) == 0 {
			continue
		}
		r := &callRequest{model: g.s.model, prompt: string(buf), maxTokens: g.s.maxTokens,
			temperature: g.s.temperature, json: g.s.jsonMode}
		if g.systemB != nil {
			if buf, err = g.systemB.Render(buf[:0], in, i); err != nil {
				return nil, err
			}
			r.system = strings.TrimSpace(string(buf))
		}
		if g.s.instruction != "" {
			if r.system != "" {
				r.system += "\n\n"
			}
			r.system += g.s.instruction
		}
		reqs[i] = r
	}
	return reqs, nil
}

// worker holds what one request goroutine needs: a builder to check JSON
// answers against the schema.
type worker struct {
	check *batch.Builder
}

func (g *generate) process(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if err := g.bind(in.Schema()); err != nil {
		return nil, fmt.Errorf("stage %q: %w", st.ID, err)
	}
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	reqs, err := g.requests(in)
	if err != nil {
		return nil, fmt.Errorf("stage %q: %w", st.ID, err)
	}
	results := make([]outcome, n)

	// Under "stop", a failing row ends the batch: rows after it are not
	// sent (those in flight finish). So is a row without budget under
	// on_budget = "fail".
	stopOnFail := st.Strategy() == flow.StrategyStop
	var stopAt atomic.Int64
	stopAt.Store(int64(n))
	stops := func(k resultKind) bool {
		return k == kindFailed && stopOnFail || k == kindBudget && g.s.failOnBudget
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var werr error
	var werrOnce sync.Once
	for range min(g.s.concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{}
			if g.fieldSchema != nil {
				b, err := batch.NewBuilder(st.Alloc, g.fieldSchema)
				if err != nil {
					werrOnce.Do(func() { werr = err })
					return
				}
				w.check = b
				defer b.Release()
			}
			for {
				j := next.Add(1) - 1
				if j >= int64(n) {
					return
				}
				if j > stopAt.Load() {
					results[j] = outcome{kind: kindSkipped}
					continue
				}
				if reqs[j] == nil {
					results[j] = outcome{kind: kindEmpty}
					continue
				}
				results[j] = g.answer(ctx, w, reqs[j])
				if stops(results[j].kind) {
					for {
						cur := stopAt.Load()
						if j >= cur || stopAt.CompareAndSwap(cur, j) {
							break
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, fmt.Errorf("stage %q: schema: %w", st.ID, werr)
	}
	stats := g.client.Stats()
	st.Metrics().Retries.Add(stats.Retries - g.retriesSeen)
	g.retriesSeen = stats.Retries

	var drop []int32
	for i := range results {
		r := &results[i]
		if r.kind == kindOK || r.kind == kindEmpty {
			continue
		}
		drop = append(drop, int32(i))
		g.rejected++
		rej := flow.Rejection{Err: r.err, Source: "input row " + strconv.FormatInt(g.rows+int64(i)+1, 10), Row: batch.Row(in, i)}
		switch r.kind {
		case kindFailed:
			if err := st.Reject(ctx, rej); err != nil {
				return nil, err
			}
		case kindInvalid:
			g.invalid++
			if err := st.DeadLetter(ctx, rej); err != nil {
				return nil, err
			}
		case kindBudget:
			g.budgetRejected++
			if !g.budgetLogged {
				g.budgetLogged = true
				used, _ := g.budget.state()
				then := "the rows left without an answer are dead-lettered with reason \"budget exhausted\""
				if g.s.failOnBudget {
					then = "the stage stops (on_budget = \"fail\")"
				}
				st.Logger.Error(fmt.Sprintf("%s: token budget exhausted: %d of %d tokens used, no further calls; %s", name, used, g.s.budget, then),
					"budget", g.s.budget, "budget_used", used, "calls", g.calls.Load(), "first_row", g.rows+int64(i)+1)
			}
			if g.s.failOnBudget {
				return nil, &flow.RowError{Stage: st.ID, Source: rej.Source, Err: r.err}
			}
			if err := st.DeadLetter(ctx, rej); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("stage %q: input row %d was not processed", st.ID, g.rows+int64(i)+1)
		}
	}
	g.rows += int64(n)
	return g.assemble(ctx, st, in, results, drop)
}

// answer returns a row's outcome: from the cache, from a call in flight
// for the same prompt, or from its own call.
func (g *generate) answer(ctx context.Context, w *worker, r *callRequest) outcome {
	if g.cache == nil {
		return g.ask(ctx, w, r)
	}
	key := cacheKey(g.s.prov.name, r, g.s.schemaText)
	if o, ok := g.cached(w, key); ok {
		g.hit()
		return o
	}
	o, shared := g.cache.do(ctx, key, func() outcome {
		// A flight for this key may have ended and written the file
		// between the look-up above and this one.
		if o, ok := g.cached(w, key); ok {
			return o
		}
		o := g.ask(ctx, w, r)
		if o.kind == kindOK {
			e := cacheEntry{Provider: g.s.prov.name, Model: g.s.model, Text: o.raw, InputTokens: o.in, OutputTokens: o.out}
			if err := g.cache.put(key, e); err != nil && g.opts.Logger != nil {
				g.opts.Logger.Warn(name+": cannot write to cache_dir", "error", err.Error())
			}
		}
		return o
	})
	if o.kind == kindOK && (shared || o.hit) {
		g.hit()
	}
	return o
}

func (g *generate) hit() {
	g.hits.Add(1)
	recordUsage(g.s.prov.name, UsageCounts{CacheHits: 1})
}

// cached reads key from the cache and checks the answer as a fresh one.
func (g *generate) cached(w *worker, key string) (outcome, bool) {
	e, ok := g.cache.get(key)
	if !ok {
		return outcome{}, false
	}
	o := outcome{hit: true, raw: e.Text, in: e.InputTokens, out: e.OutputTokens}
	if !g.s.jsonMode {
		o.text = strings.TrimSpace(e.Text)
		return o, true
	}
	text, obj, err := accept(w, e.Text)
	if err != nil {
		return outcome{}, false
	}
	o.text, o.obj = text, obj
	return o, true
}

// ask calls the provider for r: once in text mode; in JSON mode, again
// once when the first answer is not a JSON object fitting the schema.
func (g *generate) ask(ctx context.Context, w *worker, r *callRequest) outcome {
	attempts := 1
	if g.s.jsonMode {
		attempts = 2
	}
	var bad error
	var last string
	for a := 1; a <= attempts; a++ {
		rep, err := g.call(ctx, r)
		if err != nil {
			if errors.Is(err, ErrBudgetExhausted) {
				used, _ := g.budget.state()
				return outcome{kind: kindBudget, err: fmt.Errorf("%w: %d of %d tokens used; no call made for this row", ErrBudgetExhausted, used, g.s.budget)}
			}
			return outcome{kind: kindFailed, err: err}
		}
		o := outcome{raw: rep.text, in: rep.in, out: rep.out}
		if !g.s.jsonMode {
			o.text = strings.TrimSpace(rep.text)
			return o
		}
		text, obj, err := accept(w, rep.text)
		if err == nil {
			o.text, o.obj = text, obj
			return o
		}
		bad, last = err, rep.text
		if a < attempts && g.opts.Logger != nil {
			g.opts.Logger.Debug(name+": answer is not valid JSON, asking again", "error", err.Error())
		}
	}
	return outcome{kind: kindInvalid, err: fmt.Errorf("%w (%d answers): %s; last answer: %q", ErrInvalidJSON, attempts,
		scrub(bad.Error(), g.key), scrub(httpx.Excerpt([]byte(last), httpx.ExcerptBytes), g.key))}
}

// call makes one provider call: budget reservation, tokens-per-minute
// pacing, the HTTP request (retries and requests-per-minute in the
// client), reading the answer, and the accounting.
func (g *generate) call(ctx context.Context, r *callRequest) (reply, error) {
	est := estimateTokens(r)
	if g.budget != nil {
		if err := g.budget.reserve(ctx, est); err != nil {
			return reply{}, err
		}
	}
	var used int64
	defer func() {
		if g.budget != nil {
			g.budget.settle(est, used)
		}
	}()
	if g.tpm != nil {
		if err := g.tpm.wait(ctx, est); err != nil {
			return reply{}, err
		}
	}
	body, err := g.s.prov.body(r)
	if err != nil {
		return reply{}, fmt.Errorf("%s: encoding the request: %w", g.s.prov.name, err)
	}
	fail := func(err error) (reply, error) {
		if g.tpm != nil {
			g.tpm.adjust(est)
		}
		if ctx.Err() != nil {
			return reply{}, ctx.Err()
		}
		g.failed.Add(1)
		recordUsage(g.s.prov.name, UsageCounts{Failed: 1})
		return reply{}, newCallError(g.s.prov, g.key, err)
	}
	resp, err := g.client.Do(ctx, http.MethodPost, g.endpoint, g.s.prov.header(g.key), body)
	if err != nil {
		return fail(err)
	}
	rep, err := g.s.prov.parse(resp.Body)
	if err != nil {
		if rep.usage {
			// Spent although unusable: counted, and against the budget.
			used = rep.in + rep.out
			g.inTok.Add(rep.in)
			g.outTok.Add(rep.out)
			recordUsage(g.s.prov.name, UsageCounts{InputTokens: rep.in, OutputTokens: rep.out})
			if g.tpm != nil {
				g.tpm.adjust(-used) // fail gives the estimate back
			}
		}
		return fail(fmt.Errorf("POST %s: %w; body %q", httpx.RedactURL(g.endpoint), err, httpx.Excerpt(resp.Body, httpx.ExcerptBytes)))
	}
	if !rep.usage {
		rep.in = est - int64(r.maxTokens)
		rep.out = int64(len(rep.text)+3) / 4
		if g.noUsageWarned.CompareAndSwap(false, true) && g.opts.Logger != nil {
			g.opts.Logger.Warn(name+": the provider's answer reports no token usage; tokens are estimated at 4 bytes per token", "provider", g.s.prov.name)
		}
	}
	used = rep.in + rep.out
	if g.tpm != nil {
		g.tpm.adjust(est - used)
	}
	g.calls.Add(1)
	g.inTok.Add(rep.in)
	g.outTok.Add(rep.out)
	recordUsage(g.s.prov.name, UsageCounts{Calls: 1, InputTokens: rep.in, OutputTokens: rep.out})
	return rep, nil
}

// accept reads a JSON-mode answer: one JSON object (code fences and text
// around it tolerated) whose fields fit the schema. It returns the object
// compacted and decoded.
func accept(w *worker, raw string) (string, map[string]any, error) {
	text := extractJSON(raw)
	if text == "" {
		return "", nil, errors.New("the answer holds no JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, errors.New("not JSON: text follows the object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", nil, errors.New("the answer is JSON but not an object")
	}
	if w != nil && w.check != nil {
		if err := w.check.Append(obj); err != nil {
			return "", nil, fmt.Errorf("does not fit the schema: %v", err)
		}
	}
	var c bytes.Buffer
	if err := json.Compact(&c, []byte(text)); err != nil {
		return "", nil, fmt.Errorf("not JSON: %v", err)
	}
	return c.String(), obj, nil
}

// extractJSON cuts the object out of an answer: without a Markdown code
// fence around it, and from its first '{' to its last '}' when other text
// surrounds it.
func extractJSON(raw string) string {
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "```") {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		} else {
			s = strings.TrimPrefix(s, "```")
		}
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "```"))
	}
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		return s
	}
	i, j := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}')
	if i < 0 || j < i {
		if strings.HasPrefix(s, "[") {
			return s // reported as "not an object"
		}
		return ""
	}
	return s[i : j+1]
}

// assemble builds the output batch: the input columns plus the answer
// column and the schema fields, without the rejected rows.
func (g *generate) assemble(ctx context.Context, st *flow.Stage, in arrow.RecordBatch, results []outcome, drop []int32) (arrow.RecordBatch, error) {
	mem := st.Alloc
	cols := make([]arrow.Array, g.out.NumFields())
	copy(cols, in.Columns())
	if g.outIdx >= 0 {
		sb := array.NewStringBuilder(mem)
		defer sb.Release()
		sb.Reserve(len(results))
		for _, r := range results {
			if r.kind == kindOK {
				sb.Append(r.text)
			} else {
				sb.AppendNull()
			}
		}
		arr := sb.NewArray()
		defer arr.Release()
		cols[g.outIdx] = arr
	}
	if g.fieldSchema != nil {
		b, err := batch.NewBuilder(mem, g.fieldSchema)
		if err != nil {
			return nil, err
		}
		defer b.Release()
		for i, r := range results {
			var obj map[string]any
			if r.kind == kindOK {
				obj = r.obj
			}
			if err := b.Append(obj); err != nil {
				return nil, fmt.Errorf("stage %q: input row %d: %w", st.ID, g.rows-int64(len(results))+int64(i)+1, err)
			}
		}
		fb := b.NewBatch()
		defer fb.Release()
		for k, idx := range g.fieldIdx {
			cols[idx] = fb.Column(k)
		}
	}
	full := array.NewRecordBatch(g.out, cols, in.NumRows())
	defer full.Release()
	return operators.DropRows(ctx, mem, full, drop)
}
