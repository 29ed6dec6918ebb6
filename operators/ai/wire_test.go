package ai

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/flow"
)

// Each provider gets the request body, headers and path of its real API,
// and its answer (text and usage) is read from its real response format.
func TestProviderWireFormats(t *testing.T) {
	const key = "k-wire-0123456789"
	t.Setenv("AI_TEST_KEY", key)
	cases := []struct {
		provider string
		base     string // appended to the server URL
		path     string
		extra    string // config lines
		header   map[string]string
		noHeader []string
		body     map[string]any
	}{
		{
			provider: OpenAI, base: "/v1", path: "/v1/chat/completions",
			header:   map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json"},
			noHeader: []string{"X-Api-Key", "Anthropic-Version"},
			body: map[string]any{"model": "gpt-4o-mini", "max_completion_tokens": 50.0, "temperature": 0.2,
				"messages": []any{
					map[string]any{"role": "system", "content": "You are terse."},
					map[string]any{"role": "user", "content": "Summarise: Ann"}}},
		},
		{
			provider: OpenRouter, base: "/api/v1", path: "/api/v1/chat/completions",
			header:   map[string]string{"Authorization": "Bearer " + key, "Content-Type": "application/json", "X-Title": "Conveyor"},
			noHeader: []string{"X-Api-Key"},
			body: map[string]any{"model": "gpt-4o-mini", "max_tokens": 50.0, "temperature": 0.2,
				"messages": []any{
					map[string]any{"role": "system", "content": "You are terse."},
					map[string]any{"role": "user", "content": "Summarise: Ann"}}},
		},
		{
			provider: Anthropic, base: "", path: "/v1/messages",
			header:   map[string]string{"X-Api-Key": key, "Anthropic-Version": "2023-06-01", "Content-Type": "application/json"},
			noHeader: []string{"Authorization"},
			body: map[string]any{"model": "gpt-4o-mini", "max_tokens": 50.0, "temperature": 0.2,
				"system":   "You are terse.",
				"messages": []any{map[string]any{"role": "user", "content": "Summarise: Ann"}}},
		},
		{
			// Ollama needs no key: none is sent unless api_key_env names one.
			provider: Ollama, base: "", path: "/api/chat",
			header:   map[string]string{"Content-Type": "application/json"},
			noHeader: []string{"Authorization", "X-Api-Key"},
			body: map[string]any{"model": "gpt-4o-mini", "stream": false,
				"options": map[string]any{"num_predict": 50.0, "temperature": 0.2},
				"messages": []any{
					map[string]any{"role": "system", "content": "You are terse."},
					map[string]any{"role": "user", "content": "Summarise: Ann"}}},
		},
	}
	for _, c := range cases {
		t.Run(c.provider, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
				fmt.Fprint(w, answerFor(c.provider, "  Ann, briefly.\n", 12, 4))
			})
			keyLine := `api_key_env = "AI_TEST_KEY"`
			if c.provider == Ollama {
				keyLine = ""
			}
			ResetUsage()
			res := run{config: fmt.Sprintf(`
provider = %q
model = "gpt-4o-mini"
api_base_url = "%s%s"
%s
system = "You are terse."
prompt = "Summarise: {{ name }}"
max_tokens = 50
temperature = 0.2
`, c.provider, f.URL, c.base, keyLine), input: `{"name":"Ann"}` + "\n"}.do(t)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if want := `{"name":"Ann","ai_response":"Ann, briefly."}` + "\n"; res.out != want {
				t.Errorf("output %s, want %s", res.out, want)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			s := reqs[0]
			if s.Method != http.MethodPost || s.Path != c.path {
				t.Errorf("request %s %s, want POST %s", s.Method, s.Path, c.path)
			}
			for h, v := range c.header {
				if got := s.Header.Get(h); got != v {
					t.Errorf("header %s = %q, want %q", h, got, v)
				}
			}
			for _, h := range c.noHeader {
				if got := s.Header.Get(h); got != "" {
					t.Errorf("header %s sent (%q)", h, got)
				}
			}
			if !reflect.DeepEqual(s.Body, c.body) {
				t.Errorf("body\n%s\nwant\n%v", s.Raw, c.body)
			}
			u := Usage()[c.provider]
			if u != (UsageCounts{Calls: 1, InputTokens: 12, OutputTokens: 4}) {
				t.Errorf("usage %+v", u)
			}
			if !strings.Contains(res.logs, `msg="ai.generate finished" provider=`+c.provider) ||
				!strings.Contains(res.logs, "calls=1 cache_hits=0 input_tokens=12 output_tokens=4") {
				t.Errorf("no summary line in logs:\n%s", res.logs)
			}
		})
	}
}

// JSON mode asks each provider for JSON its own way, and every provider
// gets the instruction naming the schema's fields in the system prompt.
func TestJSONModeRequests(t *testing.T) {
	for _, p := range []string{OpenAI, OpenRouter, Anthropic, Ollama} {
		t.Run(p, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
				fmt.Fprint(w, answerFor(p, `{"city":"Paris","pop":2102650}`, 5, 5))
			})
			res := run{config: fmt.Sprintf(`
provider = %q
model = "m"
api_base_url = %q
prompt = "Capital of {{ country }}?"
response_format = "json"
schema = { city = "string", pop = "int" }
`, p, f.URL), input: `{"country":"France"}` + "\n"}.do(t)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if want := `{"country":"France","city":"Paris","pop":2102650}` + "\n"; res.out != want {
				t.Errorf("output %s, want %s", res.out, want)
			}
			body := f.requests()[0].Body
			instr := `Answer with one JSON object and nothing else, with these keys: "city" (string), "pop" (integer).`
			switch p {
			case OpenAI, OpenRouter:
				if !reflect.DeepEqual(body["response_format"], map[string]any{"type": "json_object"}) {
					t.Errorf("response_format %v", body["response_format"])
				}
			case Ollama:
				if body["format"] != "json" {
					t.Errorf("format %v", body["format"])
				}
			case Anthropic:
				if body["system"] != instr {
					t.Errorf("system %q", body["system"])
				}
			}
			if p != Anthropic {
				sys := body["messages"].([]any)[0].(map[string]any)
				if sys["role"] != "system" || sys["content"] != instr {
					t.Errorf("system message %v", sys)
				}
			}
		})
	}
}

// Error bodies of each provider are read: the rejection names the
// provider, the status and the provider's own type and message.
func TestProviderErrorBodies(t *testing.T) {
	cases := []struct {
		provider string
		status   int
		body     string
		want     string
	}{
		{OpenAI, 400, `{"error":{"message":"Unsupported value: 'temperature'","type":"invalid_request_error","param":"temperature","code":"unsupported_value"}}`,
			"openai: POST http://HOST/chat/completions: HTTP 400 Bad Request: invalid_request_error: unsupported_value: Unsupported value: 'temperature'"},
		{OpenRouter, 402, `{"error":{"code":402,"message":"Insufficient credits"}}`,
			"openrouter: POST http://HOST/chat/completions: HTTP 402 Payment Required: 402: Insufficient credits"},
		{Anthropic, 404, `{"type":"error","error":{"type":"not_found_error","message":"model: claude-x"},"request_id":"req_1"}`,
			"anthropic: POST http://HOST/v1/messages: HTTP 404 Not Found: not_found_error: model: claude-x"},
		{Ollama, 404, `{"error":"model \"llama9\" not found, try pulling it first"}`,
			`ollama: POST http://HOST/api/chat: HTTP 404 Not Found: model "llama9" not found, try pulling it first`},
		{OpenAI, 400, `not json at all`,
			`openai: POST http://HOST/chat/completions: HTTP 400 Bad Request: body "not json at all"`},
	}
	for _, c := range cases {
		t.Run(c.provider, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			})
			cfg := fmt.Sprintf("provider = %q\nmodel = \"m\"\napi_base_url = %q\nprompt = \"{{ q }}\"\n", c.provider, f.URL)
			// Under "stop" the run fails naming the stage and the row.
			res := run{config: cfg, input: `{"q":"a"}` + "\n"}.do(t)
			want := strings.ReplaceAll(c.want, "http://HOST", f.URL)
			if res.err == nil || res.err.Error() != `stage "ask": input row 1: `+want {
				t.Fatalf("error %v\nwant %s", res.err, want)
			}
			var ce *CallError
			if !errors.As(res.err, &ce) || ce.Status != c.status || !errors.Is(res.err, flow.ErrRowRejected) {
				t.Errorf("error %#v is not a CallError with status %d", res.err, c.status)
			}
			// Under "continue" the row goes to the errors port.
			res = run{config: cfg, input: `{"q":"a"}` + "\n" + `{"q":"b"}` + "\n", strategy: flow.StrategyContinue}.do(t)
			if res.err != nil || res.out != "" || len(res.errs) != 2 || res.errs[1]["error"] != want || res.errs[1]["source"] != "input row 2" {
				t.Errorf("continue: err %v out %q errors\n%s", res.err, res.out, res.errorsText())
			}
		})
	}
}

// Answers that are not the provider's format are rejected, not written.
func TestUnreadableAnswer(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) {
		switch s.Prompt {
		case "html":
			fmt.Fprint(w, "<html>gateway</html>")
		case "nochoice":
			fmt.Fprint(w, `{"choices":[]}`)
		case "refused":
			fmt.Fprint(w, `{"choices":[{"message":{"role":"assistant","content":null,"refusal":"I can't help with that."}}],"usage":{"prompt_tokens":7,"completion_tokens":5}}`)
		case "error200":
			fmt.Fprint(w, `{"error":{"code":502,"message":"upstream provider failed"}}`)
		default:
			fmt.Fprint(w, `{"choices":[{"message":{"role":"assistant","content":"fine"}}]}`) // no usage
		}
	})
	res := run{config: fmt.Sprintf("provider = \"openrouter\"\nmodel = \"m\"\napi_base_url = %q\nprompt = \"{{ q }}\"\n", f.URL),
		input:    `{"q":"html"}` + "\n" + `{"q":"nochoice"}` + "\n" + `{"q":"refused"}` + "\n" + `{"q":"error200"}` + "\n" + `{"q":"ok ok ok ok"}` + "\n",
		strategy: flow.StrategyContinue}.do(t)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.out != `{"q":"ok ok ok ok","ai_response":"fine"}`+"\n" {
		t.Errorf("output %s", res.out)
	}
	want := []string{"unreadable provider answer: invalid character '<'", "unreadable provider answer: no choices",
		"unreadable provider answer: the model refused: I can't help with that.", "unreadable provider answer: error in answer: 502: upstream provider failed"}
	if len(res.errs) != len(want) {
		t.Fatalf("errors:\n%s", res.errorsText())
	}
	for i, w := range want {
		if !strings.Contains(res.errs[i]["error"].(string), w) {
			t.Errorf("error %d: %v, want %q", i, res.errs[i]["error"], w)
		}
	}
	// Without usage in the answer, tokens are estimated (11 + 1) and a
	// warning says so; the refusal's tokens (7 + 5) count although its
	// row is rejected.
	if !strings.Contains(res.logs, "reports no token usage") || !strings.Contains(res.logs, "calls=1 cache_hits=0 input_tokens=18 output_tokens=6 failed_calls=4") {
		t.Errorf("logs:\n%s", res.logs)
	}
}

// The endpoints without api_base_url, and api_base_url given with the
// path already.
func TestEndpoints(t *testing.T) {
	cases := map[string][2]string{
		OpenAI:     {"https://api.openai.com/v1/chat/completions", "http://gw/x/chat/completions"},
		OpenRouter: {"https://openrouter.ai/api/v1/chat/completions", "http://gw/x/chat/completions"},
		Anthropic:  {"https://api.anthropic.com/v1/messages", "http://gw/x/v1/messages"},
		Ollama:     {"http://localhost:11434/api/chat", "http://gw/x/api/chat"},
	}
	for p, want := range cases {
		if got := providers[p].endpoint(""); got != want[0] {
			t.Errorf("%s: %s, want %s", p, got, want[0])
		}
		if got := providers[p].endpoint("http://gw/x/"); got != want[1] {
			t.Errorf("%s: %s, want %s", p, got, want[1])
		}
		if got := providers[p].endpoint(want[0]); got != want[0] {
			t.Errorf("%s: full URL given: %s", p, got)
		}
	}
}

// A missing key is a configuration error naming api_key_env and the
// variable, before any call.
func TestMissingKey(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("ANTHROPIC_API_KEY", "")
	cases := []struct{ config, want string }{
		{"provider = \"openai\"\nmodel = \"m\"\nprompt = \"x\"\n",
			"api_key_env: environment variable OPENAI_API_KEY is not set or empty: openai needs an API key (set it, or name another variable with api_key_env)"},
		{"provider = \"anthropic\"\nmodel = \"m\"\nprompt = \"x\"\napi_key_env = \"NOPE_AI_KEY\"\napi_base_url = \"http://127.0.0.1:1\"\n",
			"api_key_env: environment variable NOPE_AI_KEY is not set or empty"},
	}
	for _, c := range cases {
		res := run{config: c.config, input: `{"a":1}` + "\n"}.do(t)
		if res.err == nil || res.err.Error() != c.want {
			t.Errorf("error %v, want %s", res.err, c.want)
		}
	}
	// With api_base_url (a local server) the key is optional.
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, s seen) { fmt.Fprint(w, openAIAnswer("ok", 1, 1)) })
	res := run{config: fmt.Sprintf("provider = \"openai\"\nmodel = \"m\"\nprompt = \"x\"\napi_base_url = %q\n", f.URL), input: `{"a":1}` + "\n"}.do(t)
	if res.err != nil || f.requests()[0].Header.Get("Authorization") != "" {
		t.Errorf("err %v, headers %v", res.err, f.requests()[0].Header)
	}
}

func TestBodiesAreJSON(t *testing.T) {
	// Prompts with quotes, newlines and non-ASCII text are sent intact.
	prompt := "He said \"hi\"\n\tthen left — ünïcode ✓"
	r := &callRequest{model: "m", system: "s", prompt: prompt, maxTokens: 3, json: true}
	for name, p := range providers {
		b, err := p.body(r)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		msgs := doc["messages"].([]any)
		if got := msgs[len(msgs)-1].(map[string]any)["content"]; got != prompt {
			t.Errorf("%s: prompt %q", name, got)
		}
	}
}
