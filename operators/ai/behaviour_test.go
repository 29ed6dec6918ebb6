package ai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx"
)

func rowsInput(n int, format string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, format+"\n", i)
	}
	return b.String()
}

// A 429 with Retry-After is retried after exactly that wait on the
// pipeline clock, and a 529 (Anthropic's "overloaded") with backoff.
func TestRetryAfterAndOverloaded(t *testing.T) {
	mock := clock.NewMock()
	advance := advancer(t, mock)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			fmt.Fprint(w, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)
		case 2:
			w.WriteHeader(529)
			fmt.Fprint(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
		default:
			fmt.Fprint(w, anthropicAnswer("done", 3, 1))
		}
	})
	var mu sync.Mutex
	var waits []httpx.Wait
	spec := specWith(hooks{onWait: func(w httpx.Wait) {
		mu.Lock()
		waits = append(waits, w)
		mu.Unlock()
		advance(w.Delay) // the timer is armed: let it fire
	}})
	res := run{spec: spec, clock: mock, config: fmt.Sprintf(`
provider = "anthropic"
model = "m"
api_base_url = %q
prompt = "{{ q }}"
backoff = "2s"
`, f.URL), input: `{"q":"a"}` + "\n"}.do(t)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.out != `{"q":"a","ai_response":"done"}`+"\n" || f.count() != 3 {
		t.Fatalf("output %s after %d requests", res.out, f.count())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(waits) != 2 || waits[0].Delay != 7*time.Second || !waits[0].RetryAfter || waits[0].Status != 429 ||
		waits[1].Status != 529 || waits[1].RetryAfter || waits[1].Delay < time.Second || waits[1].Delay > 4*time.Second {
		t.Errorf("waits %+v", waits)
	}
	if !strings.Contains(res.logs, "calls=1 ") || !strings.Contains(res.logs, "retries=2") {
		t.Errorf("logs:\n%s", res.logs)
	}
}

// Retries spent on 429s: the row is rejected with the provider's message
// and the number of attempts.
func TestRetriesSpent(t *testing.T) {
	mock := clock.NewMock()
	advance := advancer(t, mock)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","code":"rate_limit_exceeded"}}`)
	})
	spec := specWith(hooks{onWait: func(w httpx.Wait) { advance(w.Delay) }})
	res := run{spec: spec, clock: mock, strategy: flow.StrategyContinue, config: fmt.Sprintf(`
provider = "openai"
model = "m"
api_base_url = %q
prompt = "{{ q }}"
retries = 2
`, f.URL), input: `{"q":"a"}` + "\n"}.do(t)
	if res.err != nil || len(res.errs) != 1 || f.count() != 3 {
		t.Fatalf("err %v, %d requests, errors:\n%s", res.err, f.count(), res.errorsText())
	}
	want := "openai: POST " + f.URL + "/chat/completions: HTTP 429 Too Many Requests after 3 attempts: requests: rate_limit_exceeded: Rate limit reached for gpt-4o-mini"
	if res.errs[0]["error"] != want {
		t.Errorf("error %v\nwant %s", res.errs[0]["error"], want)
	}
}

// A slow answer hits timeout_seconds on the pipeline clock.
func TestSlowAnswerTimesOut(t *testing.T) {
	mock := clock.NewMock()
	arrived := make(chan struct{}, 1)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		arrived <- struct{}{}
		<-r.Context().Done() // never answers; ends when the client gives up
	})
	done := make(chan result, 1)
	go func() {
		done <- run{clock: mock, config: fmt.Sprintf(`
provider = "ollama"
model = "m"
api_base_url = %q
prompt = "{{ q }}"
timeout_seconds = 5
retries = 0
`, f.URL), input: `{"q":"a"}` + "\n"}.do(t)
	}()
	<-arrived
	mock.Add(4 * time.Second)
	select {
	case <-done:
		t.Fatal("timed out before timeout_seconds")
	default:
	}
	mock.Add(time.Second)
	res := <-done
	if res.err == nil || !errors.Is(res.err, httpx.ErrTimeout) {
		t.Fatalf("error %v, want a timeout", res.err)
	}
	want := `stage "ask": input row 1: ollama: POST ` + f.URL + `/api/chat: request timed out after 5s`
	if res.err.Error() != want {
		t.Errorf("error %q\nwant %q", res.err, want)
	}
}

// Cancelling the run ends calls in flight and the stage returns at once.
func TestCancelWhileCalling(t *testing.T) {
	arrived := make(chan struct{}, 8)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		done <- run{ctx: ctx, config: fmt.Sprintf("provider = \"openai\"\nmodel = \"m\"\napi_base_url = %q\nprompt = \"{{ id }}\"\nconcurrency = 3\n", f.URL),
			input: rowsInput(10, `{"id":%d}`)}.do(t)
	}()
	for range 3 {
		<-arrived
	}
	cancel()
	res := <-done
	if !errors.Is(res.err, context.Canceled) {
		t.Errorf("error %v", res.err)
	}
	if f.count() != 3 {
		t.Errorf("%d calls", f.count())
	}
}

// With concurrency 4, four calls are in flight at once and answers that
// come back out of order still leave in input order.
func TestConcurrencyKeepsOrder(t *testing.T) {
	const n, conc = 12, 4
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	inflight, maxInflight, served := 0, 0, 0
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, _ int, s seen) {
		mu.Lock()
		inflight++
		maxInflight = max(maxInflight, inflight)
		// Hold every call until a full wave is in flight (or the last
		// rows are), then let the most recent go first.
		deadline := time.AfterFunc(5*time.Second, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
		for inflight < conc && served+inflight < n {
			cond.Wait()
		}
		deadline.Stop()
		cond.Broadcast()
		mu.Unlock()
		var id int
		fmt.Sscanf(s.Prompt, "row %d", &id)
		time.Sleep(time.Duration(n-id) * time.Millisecond) // scramble the completion order only
		mu.Lock()
		inflight--
		served++
		mu.Unlock()
		fmt.Fprint(w, openAIAnswer(fmt.Sprintf("answer %d", id), 1, 1))
	})
	input := rowsInput(n, `{"id":%d}`)
	res := run{config: fmt.Sprintf(`
provider = "openai"
model = "m"
api_base_url = %q
prompt = "row {{ id }}"
concurrency = %d
`, f.URL, conc), input: input}.do(t)
	if res.err != nil {
		t.Fatal(res.err)
	}
	var want strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&want, `{"id":%d,"ai_response":"answer %d"}`+"\n", i, i)
	}
	if res.out != want.String() {
		t.Errorf("output\n%s\nwant\n%s", res.out, want.String())
	}
	if maxInflight != conc {
		t.Errorf("at most %d calls in flight, want %d", maxInflight, conc)
	}
}

// The on-disk cache: a rerun makes no call; rows repeating a prompt share
// one call; a changed parameter misses; the key is in no cache file.
func TestCacheRerunMakesNoCalls(t *testing.T) {
	const key = "sk-cache-SECRET-4242"
	t.Setenv("AI_CACHE_KEY", key)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		fmt.Fprint(w, openAIAnswer("A:"+s.Prompt, 2, 3))
	})
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
provider = "openai"
model = "m"
api_base_url = %q
api_key_env = "AI_CACHE_KEY"
prompt = "{{ q }}"
cache_dir = "cache"
concurrency = 3
`, f.URL)
	input := `{"q":"x"}` + "\n" + `{"q":"y"}` + "\n" + `{"q":"x"}` + "\n" + `{"q":"x"}` + "\n"
	want := `{"q":"x","ai_response":"A:x"}` + "\n" + `{"q":"y","ai_response":"A:y"}` + "\n" + `{"q":"x","ai_response":"A:x"}` + "\n" + `{"q":"x","ai_response":"A:x"}` + "\n"

	ResetUsage()
	res := run{config: cfg, input: input, dir: dir}.do(t)
	if res.err != nil || res.out != want {
		t.Fatalf("first run: %v\n%s", res.err, res.out)
	}
	if f.count() != 2 {
		t.Errorf("first run: %d calls for 2 distinct prompts", f.count())
	}
	if u := Usage()[OpenAI]; u != (UsageCounts{Calls: 2, CacheHits: 2, InputTokens: 4, OutputTokens: 6}) {
		t.Errorf("first run usage %+v", u)
	}

	ResetUsage()
	res = run{config: cfg, input: input, dir: dir}.do(t)
	if res.err != nil || res.out != want {
		t.Fatalf("rerun: %v\n%s", res.err, res.out)
	}
	if f.count() != 2 {
		t.Errorf("rerun made %d calls", f.count()-2)
	}
	if u := Usage()[OpenAI]; u != (UsageCounts{CacheHits: 4}) {
		t.Errorf("rerun usage %+v", u)
	}
	if !strings.Contains(res.logs, "calls=0 cache_hits=4 input_tokens=0 output_tokens=0") {
		t.Errorf("rerun logs:\n%s", res.logs)
	}

	// Another temperature is another answer.
	res = run{config: cfg + "temperature = 0.5\n", input: `{"q":"x"}` + "\n", dir: dir}.do(t)
	if res.err != nil || f.count() != 3 {
		t.Errorf("changed parameter: %v, %d calls", res.err, f.count())
	}

	files := 0
	filepath.Walk(filepath.Join(dir, "cache"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files++
			data, _ := os.ReadFile(p)
			if strings.Contains(string(data), key) {
				t.Errorf("%s holds the key", p)
			}
			if strings.HasPrefix(filepath.Base(p), ".tmp") {
				t.Errorf("temporary file left: %s", p)
			}
		}
		return nil
	})
	if files != 3 {
		t.Errorf("%d cache files, want 3", files)
	}
}

// JSON answers with a schema become typed columns; code fences and text
// around the object are tolerated.
func TestJSONSchemaTypedColumns(t *testing.T) {
	answers := map[string]string{
		"Ann": `{"age": 31, "score": 0.5, "member": true, "since": "2020-01-02T03:04:05Z", "tags": ["a", {"b": 1}], "nick": "A"}`,
		"Bob": "```json\n{\"age\": \"42\", \"score\": 7, \"member\": false, \"tags\": null}\n```",
		"Cy":  "Here you go: {\"age\": 5, \"nick\": 12} Hope it helps.",
	}
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		fmt.Fprint(w, ollamaAnswer(answers[strings.TrimPrefix(s.Prompt, "About ")], 1, 1))
	})
	res := run{config: fmt.Sprintf(`
provider = "ollama"
model = "m"
api_base_url = %q
prompt = "About {{ name }}"
response_format = "json"
schema = { age = "int", score = "float", member = "bool", since = "timestamp", tags = "json", nick = "string" }
output_column = "raw"
`, f.URL), input: `{"name":"Ann"}` + "\n" + `{"name":"Bob"}` + "\n" + `{"name":"Cy"}` + "\n"}.do(t)
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := `{"name":"Ann","raw":{"age":31,"score":0.5,"member":true,"since":"2020-01-02T03:04:05Z","tags":["a",{"b":1}],"nick":"A"},"age":31,"score":0.5,"member":true,"since":"2020-01-02T03:04:05Z","tags":["a",{"b":1}],"nick":"A"}
{"name":"Bob","raw":{"age":"42","score":7,"member":false,"tags":null},"age":42,"score":7,"member":false,"since":null,"tags":null,"nick":null}
{"name":"Cy","raw":{"age":5,"nick":12},"age":5,"score":null,"member":null,"since":null,"tags":null,"nick":"12"}
`
	if res.out != want {
		t.Errorf("output\n%s\nwant\n%s", res.out, want)
	}
	types := map[string]arrow.Type{"age": arrow.INT64, "score": arrow.FLOAT64, "member": arrow.BOOL, "since": arrow.TIMESTAMP, "tags": arrow.STRING, "nick": arrow.STRING}
	for name, id := range types {
		ix := res.schema.FieldIndices(name)
		if len(ix) != 1 || res.schema.Field(ix[0]).Type.ID() != id {
			t.Errorf("column %s: %v", name, res.schema)
		}
	}
	if !batch.IsJSONField(res.schema.Field(res.schema.FieldIndices("tags")[0])) || !batch.IsJSONField(res.schema.Field(res.schema.FieldIndices("raw")[0])) {
		t.Errorf("tags and raw should be JSON columns: %v", res.schema)
	}
}

// An answer that is not JSON (or does not fit the schema) is asked for
// again once; a second failure dead-letters the row with the reason, even
// under on_error = "stop", and the run goes on.
func TestInvalidJSONRetriedThenDeadLettered(t *testing.T) {
	var mu sync.Mutex
	perPrompt := map[string]int{}
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		mu.Lock()
		perPrompt[s.Prompt]++
		k := perPrompt[s.Prompt]
		mu.Unlock()
		text := `{"label":"ok","n":1}`
		switch {
		case s.Prompt == "bad":
			text = "Sure! The label is ok."
		case s.Prompt == "flaky" && k == 1:
			text = `{"label": "ok", "n": 1` // cut short
		case s.Prompt == "wrongtype":
			text = `{"label":"ok","n":"many"}`
		}
		fmt.Fprint(w, openAIAnswer(text, 1, 1))
	})
	res := run{config: fmt.Sprintf(`
provider = "openai"
model = "m"
api_base_url = %q
prompt = "{{ q }}"
response_format = "json"
schema = { label = "string", n = "int" }
`, f.URL), input: `{"q":"good"}` + "\n" + `{"q":"bad"}` + "\n" + `{"q":"flaky"}` + "\n" + `{"q":"wrongtype"}` + "\n"}.do(t)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if want := `{"q":"good","label":"ok","n":1}` + "\n" + `{"q":"flaky","label":"ok","n":1}` + "\n"; res.out != want {
		t.Errorf("output\n%s\nwant\n%s", res.out, want)
	}
	mu.Lock()
	if perPrompt["good"] != 1 || perPrompt["bad"] != 2 || perPrompt["flaky"] != 2 || perPrompt["wrongtype"] != 2 {
		t.Errorf("calls per prompt %v", perPrompt)
	}
	mu.Unlock()
	if len(res.errs) != 2 {
		t.Fatalf("errors:\n%s", res.errorsText())
	}
	e0, e1 := res.errs[0]["error"].(string), res.errs[1]["error"].(string)
	if res.errs[0]["source"] != "input row 2" || !strings.HasPrefix(e0, "invalid JSON answer (2 answers): the answer holds no JSON object") || !strings.Contains(e0, `last answer: "Sure! The label is ok."`) {
		t.Errorf("bad row: %s", e0)
	}
	if res.errs[1]["source"] != "input row 4" || !strings.Contains(e1, "does not fit the schema") || !strings.Contains(e1, `"n"`) {
		t.Errorf("wrong type row: %s", e1)
	}
	if res.errs[0]["row"] != `{"q":"bad"}` {
		t.Errorf("row %v", res.errs[0]["row"])
	}
}

// The budget: calls stop when the next one would not fit; the rows left
// are dead-lettered with reason "budget exhausted" (later batches too,
// without calls), an error is logged, the answered rows are kept.
func TestBudgetDeadLetters(t *testing.T) {
	for _, conc := range []int{1, 4} {
		t.Run(fmt.Sprint("concurrency ", conc), func(t *testing.T) {
			// Each call: prompt "row N" (5 bytes) is estimated at
			// (5+3)/4+8 = 10 tokens, plus max_tokens 20: 30 reserved; the
			// answer reports 10 + 20 = 30 used.
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
				fmt.Fprint(w, anthropicAnswer("ok", 10, 20))
			})
			res := run{config: fmt.Sprintf(`
provider = "anthropic"
model = "m"
api_base_url = %q
prompt = "row {{ id }}"
max_tokens = 20
budget = 100
concurrency = %d
`, f.URL, conc), input: rowsInput(5, `{"id":%d}`) + "---\n" + `{"id":6}` + "\n"}.do(t)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if f.count() != 3 {
				t.Errorf("%d calls, want 3", f.count())
			}
			if want := rowsInput(3, `{"id":%d,"ai_response":"ok"}`); res.out != want {
				t.Errorf("output\n%s\nwant\n%s", res.out, want)
			}
			if len(res.errs) != 3 {
				t.Fatalf("errors:\n%s", res.errorsText())
			}
			for i, e := range res.errs {
				if e["source"] != fmt.Sprintf("input row %d", i+4) || e["error"] != "budget exhausted: 90 of 100 tokens used; no call made for this row" {
					t.Errorf("rejection %v", e)
				}
			}
			if !strings.Contains(res.logs, "level=ERROR") || !strings.Contains(res.logs, "token budget exhausted: 90 of 100 tokens used, no further calls") ||
				!strings.Contains(res.logs, "budget=100 budget_used=90") {
				t.Errorf("logs:\n%s", res.logs)
			}
		})
	}
}

// on_budget = "fail" stops the pipeline with the budget error; rows
// answered from the cache cost nothing and are still answered.
func TestBudgetFailAndCache(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		fmt.Fprint(w, openAIAnswer("ok "+s.Prompt, 10, 20))
	})
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
provider = "openai"
model = "m"
api_base_url = %q
prompt = "row {{ id }}"
max_tokens = 20
budget = 70
cache_dir = "c"
concurrency = 1
`, f.URL)
	// 2 calls fit (60 of 70); the third row has none.
	res := run{config: cfg + "on_budget = \"fail\"\n", input: rowsInput(4, `{"id":%d}`), dir: dir}.do(t)
	if res.err == nil || !errors.Is(res.err, ErrBudgetExhausted) ||
		res.err.Error() != `stage "ask": input row 3: budget exhausted: 60 of 70 tokens used; no call made for this row` {
		t.Fatalf("error %v", res.err)
	}
	if f.count() != 2 {
		t.Errorf("%d calls", f.count())
	}
	// Rerun: rows 1 and 2 come from the cache, rows 3 and 4 are called.
	res = run{config: cfg, input: rowsInput(4, `{"id":%d}`), dir: dir}.do(t)
	if res.err != nil || res.out != rowsInput(4, `{"id":%[1]d,"ai_response":"ok row %[1]d"}`) || f.count() != 4 {
		t.Errorf("rerun: %v, %d calls\n%s%s", res.err, f.count(), res.out, res.errorsText())
	}
}

// requests_per_minute goes to the client's limiter; tokens_per_minute
// paces calls by their token reservations, on the pipeline clock.
func TestRateLimits(t *testing.T) {
	mock := clock.NewMock()
	advance := advancer(t, mock)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		fmt.Fprint(w, openAIAnswer("ok", 10, 20)) // as estimated: 30
	})
	var mu sync.Mutex
	var rateWaits []time.Duration
	var tokenWaits []time.Duration
	spec := specWith(hooks{
		onWait: func(w httpx.Wait) {
			mu.Lock()
			if w.Kind == httpx.WaitRate {
				rateWaits = append(rateWaits, w.Delay)
			}
			mu.Unlock()
			advance(w.Delay)
		},
		onTokenWait: func(d time.Duration) {
			mu.Lock()
			tokenWaits = append(tokenWaits, d)
			mu.Unlock()
			advance(d)
		},
	})
	res := run{spec: spec, clock: mock, config: fmt.Sprintf(`
provider = "openai"
model = "m"
api_base_url = %q
prompt = "row {{ id }}"
max_tokens = 20
concurrency = 1
rate_limit = { tokens_per_minute = 60 }
`, f.URL), input: rowsInput(4, `{"id":%d}`)}.do(t)
	if res.err != nil || f.count() != 4 {
		t.Fatalf("%v, %d calls", res.err, f.count())
	}
	mu.Lock()
	// 60 tokens in the bucket: two calls of 30 at once; then each waits
	// for 30 tokens at 1 token/s.
	if len(tokenWaits) != 2 || tokenWaits[0] != 30*time.Second || tokenWaits[1] != 30*time.Second {
		t.Errorf("token waits %v", tokenWaits)
	}
	tokenWaits = nil
	mu.Unlock()

	res = run{spec: spec, clock: mock, config: fmt.Sprintf(`
provider = "openai"
model = "m"
api_base_url = %q
prompt = "row {{ id }}"
concurrency = 1
rate_limit = { requests_per_minute = 30 }
`, f.URL), input: rowsInput(3, `{"id":%d}`)}.do(t)
	if res.err != nil || f.count() != 7 {
		t.Fatalf("%v, %d calls", res.err, f.count())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(rateWaits) != 2 || rateWaits[0] != 2*time.Second || rateWaits[1] != 2*time.Second || len(tokenWaits) != 0 {
		t.Errorf("rate waits %v, token waits %v", rateWaits, tokenWaits)
	}
}

// A row whose prompt renders empty gets a null answer without a call.
func TestEmptyPromptMakesNoCall(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) { fmt.Fprint(w, openAIAnswer("yes", 1, 1)) })
	res := run{config: fmt.Sprintf("provider = \"openai\"\nmodel = \"m\"\napi_base_url = %q\nprompt = \"{{ q }}\"\n", f.URL),
		input: `{"q":"a"}` + "\n" + `{"q":null}` + "\n" + `{"q":"  "}` + "\n"}.do(t)
	if res.err != nil || f.count() != 1 {
		t.Fatalf("%v, %d calls", res.err, f.count())
	}
	if want := `{"q":"a","ai_response":"yes"}` + "\n" + `{"q":null,"ai_response":null}` + "\n" + `{"q":"  ","ai_response":null}` + "\n"; res.out != want {
		t.Errorf("output\n%s", res.out)
	}
}

// Under "stop", the first failing row (in input order) fails the run and
// later rows are not sent.
func TestStopSkipsLaterRows(t *testing.T) {
	var calls atomic.Int64
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		calls.Add(1)
		if s.Prompt == "2" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"no","type":"invalid_request_error"}}`)
			return
		}
		fmt.Fprint(w, openAIAnswer("ok", 1, 1))
	})
	res := run{config: fmt.Sprintf("provider = \"openai\"\nmodel = \"m\"\napi_base_url = %q\nprompt = \"{{ id }}\"\nconcurrency = 1\n", f.URL),
		input: rowsInput(50, `{"id":%d}`)}.do(t)
	if res.err == nil || !strings.Contains(res.err.Error(), "input row 2: openai:") {
		t.Fatalf("error %v", res.err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls after the failing row 2", calls.Load())
	}
}

func TestCheckAndSchema(t *testing.T) {
	cases := []struct{ config, want string }{
		{`schema = { a = "int" }`, `schema applies to response_format = "json" only`},
		{"response_format = \"json\"\nschema = { a = \"complex\" }", `field "a": unsupported type "complex"`},
		{"response_format = \"json\"\nschema = { a = \"int\" }\noutput_column = \"a\"", `"a" is also a schema field`},
		{`rate_limit = { request_per_minute = 5 }`, `unknown key "request_per_minute" (use requests_per_minute or tokens_per_minute); did you mean "requests_per_minute"?`},
		{`rate_limit = { tokens_per_minute = 0 }`, `tokens_per_minute must be a number above 0`},
		{`on_budget = "fail"`, `on_budget applies only with a budget`},
		{`provider2 = "x"`, `provider2`},
	}
	for _, c := range cases {
		raw := "provider = \"ollama\"\nmodel = \"m\"\nprompt = \"x\"\n" + c.config + "\n"
		res := run{config: raw, input: `{"a":1}` + "\n"}.do(t)
		if res.err == nil || !strings.Contains(res.err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.config, res.err, c.want)
		}
	}
	// Schema: an unknown column in a template names the key and suggests.
	in := arrow.NewSchema([]arrow.Field{{Name: "review", Type: arrow.BinaryTypes.String}}, nil)
	cfg, errs := flow.CheckConfig(Spec(), map[string]any{"provider": "ollama", "model": "m", "prompt": "{{ reveiw }}"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, err := schemaFn(cfg, flow.BuildEnv{}, []*arrow.Schema{in})
	var pe *flow.ParamError
	if !errors.As(err, &pe) || pe.Key != "prompt" || !strings.Contains(err.Error(), `"review"`) {
		t.Errorf("unknown column: %v", err)
	}
	cfg, _ = flow.CheckConfig(Spec(), map[string]any{"provider": "ollama", "model": "m", "prompt": "{{ review }}",
		"response_format": "json", "schema": map[string]any{"stars": "int", "review": "string"}})
	out, err := schemaFn(cfg, flow.BuildEnv{}, []*arrow.Schema{in})
	if err != nil || out.String() != arrow.NewSchema([]arrow.Field{
		{Name: "review", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "stars", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil).String() {
		t.Errorf("schema %v, %v", out, err)
	}
}

func TestUses(t *testing.T) {
	cfg, errs := flow.CheckConfig(Spec(), map[string]any{"provider": "ollama", "model": "m", "prompt": "{{ a }} {{ b }}",
		"system": "{{ c }}", "response_format": "json", "schema": map[string]any{"x": "int"}})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := fmt.Sprint(uses(cfg, []string{"id", "x"})); got != "[id a b c]" {
		t.Errorf("uses %s", got)
	}
	if uses(cfg, nil) != nil {
		t.Error("nil needed means every column")
	}
}

func TestDryRun(t *testing.T) {
	cfg, errs := flow.CheckConfig(Spec(), map[string]any{"provider": "openai", "model": "gpt-4o-mini", "prompt": "x",
		"response_format": "json", "budget": int64(5000), "cache_dir": "ai-cache"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if EstimateCalls(cfg, 120) != 120 || EstimateCalls(cfg, -1) != -1 {
		t.Error("EstimateCalls")
	}
	want := "openai gpt-4o-mini: one call per input row at most (cache hits and repeated prompts are known only when rows are read); up to two per row when an answer is not valid JSON; budget 5000 tokens; cache ai-cache"
	if got := DryRunNote(cfg); got != want {
		t.Errorf("note %q", got)
	}
}
