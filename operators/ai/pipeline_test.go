package ai_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/operators/ai"
	"github.com/conveyor-etl/conveyor/operators/ai/aiexample"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The spec's examples, against the example server, as the registry-wide
// example test runs them.
func TestSpecExamples(t *testing.T) {
	srv := aiexample.ExampleServer()
	defer srv.Close()
	spec := ai.Spec()
	for _, ex := range spec.Examples {
		t.Run(ex.Title, func(t *testing.T) {
			ex.Config = aiexample.Rewrite(ex.Config, srv)
			if !strings.Contains(ex.Config, srv.URL) {
				t.Fatalf("the example does not use ExampleURL: %s", ex.Config)
			}
			spectest.Run(t, spec, ex)
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The API key reaches the provider in its header and nowhere else: not the
// output, not the logs (at debug level), not the dead-letter records, not
// the cache, not the run's error, even when the server echoes it back in
// error bodies and answers.
func TestKeyNeverLeaks(t *testing.T) {
	const key = "sk-proj-LEAKCHECK-9f8e7d6c5b4a"
	t.Setenv("LEAK_TEST_KEY", key)
	var mu sync.Mutex
	var authSeen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		authSeen = append(authSeen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		answer := func(text string) {
			fmt.Fprintf(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}`, text)
		}
		switch {
		case strings.Contains(string(body), "unauthorized"):
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s.","type":"invalid_request_error","code":"invalid_api_key"}}`, key)
		case strings.Contains(string(body), "boom"):
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, "upstream said: Bearer %s", key)
		case strings.Contains(string(body), "badjson"):
			answer("I cannot; my key is " + key)
		default:
			answer(`{"ok": true}`)
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	input := `{"q":"fine"}` + "\n" + `{"q":"unauthorized"}` + "\n" + `{"q":"boom"}` + "\n" + `{"q":"badjson"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	// flow joins "dl/" to BaseDir without its slash; an existing
	// directory is recognised as one.
	if err := os.Mkdir(filepath.Join(dir, "dl"), 0o755); err != nil {
		t.Fatal(err)
	}
	pipeline := func(strategy string) string {
		return fmt.Sprintf(`
[pipeline]
name = "leak"

[[stages]]
id = "in"
function = "json.read"
[stages.config]
path = "in.jsonl"
format = "jsonl"

[[stages]]
id = "ask"
function = "ai.generate"
inputs = ["in"]
[stages.config]
provider = "openai"
model = "gpt-4o-mini"
api_base_url = %q
api_key_env = "LEAK_TEST_KEY"
prompt = "{{ q }}"
response_format = "json"
output_column = "answer"
retries = 1
backoff = "1ms"
cache_dir = "cache"
concurrency = 2

[[stages]]
id = "out"
function = "json.write"
inputs = ["ask"]
[stages.config]
path = "out.jsonl"
format = "jsonl"

[error_handling]
strategy = %q
[error_handling.dead_letter_queue]
enabled = true
path = "dl/"
`, srv.URL+"/v1", strategy)
	}
	reg := flow.NewRegistry()
	jsonfile.Register(reg)
	ai.Register(reg)
	runPipeline := func(src string, logs io.Writer) error {
		f, err := flow.Parse(filepath.Join(dir, "leak.toml"), []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		g, err := flow.Validate(f, reg)
		if err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		r, err := flow.NewRunner(g, flow.Options{Alloc: mem, Logger: logger, BaseDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return r.Run(context.Background())
	}

	var logs syncBuffer
	if err := runPipeline(pipeline("continue"), &logs); err != nil {
		t.Fatalf("run: %v", err)
	}
	var stopLogs syncBuffer
	stopErr := runPipeline(pipeline("stop"), &stopLogs)
	if stopErr == nil || !strings.Contains(stopErr.Error(), "invalid_api_key") {
		t.Fatalf("stop run: %v", stopErr)
	}

	out, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil || string(out) != `{"q":"fine","answer":{"ok":true}}`+"\n" {
		t.Errorf("output %q, %v", out, err)
	}
	dead, err := os.ReadFile(filepath.Join(dir, "dl", "leak.dead-letter.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(dead), "\n"); n != 3 {
		t.Errorf("%d dead-letter records:\n%s", n, dead)
	}
	for _, want := range []string{"Incorrect API key provided: [REDACTED].", "HTTP 502 Bad Gateway after 2 attempts", "upstream said: Bearer [REDACTED]", "my key is [REDACTED]"} {
		if !strings.Contains(string(dead), want) {
			t.Errorf("dead letters lack %q:\n%s", want, dead)
		}
	}
	if !strings.Contains(logs.String(), "http request retried") || !strings.Contains(logs.String(), "ai.generate finished") {
		t.Errorf("logs lack the retry or the summary:\n%s", logs.String())
	}

	outputs := map[string]string{
		"output": string(out), "dead letters": string(dead), "logs": logs.String(),
		"stop run logs": stopLogs.String(), "stop run error": stopErr.Error(),
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && p != filepath.Join(dir, "in.jsonl") {
			data, _ := os.ReadFile(p)
			outputs[p] = string(data)
		}
		return nil
	})
	for what, text := range outputs {
		if strings.Contains(text, key) || strings.Contains(text, key[8:]) {
			t.Errorf("the key appears in %s:\n%s", what, text)
		}
	}
	// Not vacuous: the key was sent, in the header only.
	mu.Lock()
	defer mu.Unlock()
	if len(authSeen) < 5 {
		t.Fatalf("%d requests", len(authSeen))
	}
	for _, a := range authSeen {
		if a != "Bearer "+key {
			t.Errorf("Authorization %q", a)
		}
	}
}
