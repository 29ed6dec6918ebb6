// Package aiexample serves the spec examples of ai.generate offline: an
// HTTP server answering like each provider, with canned, deterministic
// completions. It lives apart from package ai so that the conveyor binary
// does not link net/http/httptest.
package aiexample

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/conveyor-etl/conveyor/operators/ai"
)

// ExampleServer starts a server on 127.0.0.1 that answers, whatever the
// path prefix before them:
//
//   - POST …/chat/completions in OpenAI's Chat Completions format (openai,
//     openrouter);
//   - POST …/v1/messages in Anthropic's Messages format;
//   - POST …/api/chat in Ollama's chat format.
//
// The answer classifies the text after the last ':' of the user message:
// "positive" when it holds one of love, great, good, excellent, perfect or
// nice (any case), "negative" otherwise. When JSON is asked for (OpenAI's
// response_format json_object, Ollama's format "json", or a system prompt
// mentioning JSON for Anthropic) the answer is {"sentiment": label,
// "stars": 5 or 1}. Usage reports the words of the messages as input
// tokens and the words of the answer as output tokens. Anything else is
// answered 404 with an error body. Call Close when done.
func ExampleServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(serve))
}

// Rewrite replaces ai.ExampleURL in an example's config with the server's
// address.
func Rewrite(config string, srv *httptest.Server) string {
	return strings.ReplaceAll(config, ai.ExampleURL, srv.URL)
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type request struct {
	Model          string    `json:"model"`
	System         string    `json:"system"`
	Messages       []message `json:"messages"`
	Format         string    `json:"format"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

func serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	var req request
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		fmt.Fprint(w, `{"error":{"type":"invalid_request_error","message":"use POST"}}`)
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"type":"invalid_request_error","message":"the body must hold messages"}}`)
		return
	}
	user, system := "", req.System
	for _, m := range req.Messages {
		switch m.Role {
		case "user":
			user = m.Content
		case "system":
			system = m.Content
		}
	}
	words := len(strings.Fields(system)) + len(strings.Fields(user))
	path := r.URL.Path
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		wantJSON := req.ResponseFormat != nil && req.ResponseFormat.Type == "json_object"
		text := answer(user, wantJSON)
		json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-example", "object": "chat.completion", "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": text}}},
			"usage": map[string]int{"prompt_tokens": words, "completion_tokens": len(strings.Fields(text)),
				"total_tokens": words + len(strings.Fields(text))},
		})
	case strings.HasSuffix(path, "/v1/messages"):
		text := answer(user, strings.Contains(system, "JSON"))
		json.NewEncoder(w).Encode(map[string]any{
			"id": "msg_example", "type": "message", "role": "assistant", "model": req.Model,
			"content":     []any{map[string]string{"type": "text", "text": text}},
			"stop_reason": "end_turn",
			"usage":       map[string]int{"input_tokens": words, "output_tokens": len(strings.Fields(text))},
		})
	case strings.HasSuffix(path, "/api/chat"):
		text := answer(user, req.Format == "json")
		json.NewEncoder(w).Encode(map[string]any{
			"model": req.Model, "created_at": "2025-01-01T00:00:00Z",
			"message": map[string]string{"role": "assistant", "content": text},
			"done":    true, "done_reason": "stop",
			"prompt_eval_count": words, "eval_count": len(strings.Fields(text)),
		})
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"type":"not_found_error","message":"no endpoint %s"}}`, path)
	}
}

var positive = []string{"love", "great", "good", "excellent", "perfect", "nice"}

func answer(user string, wantJSON bool) string {
	text := user
	if i := strings.LastIndexByte(user, ':'); i >= 0 {
		text = user[i+1:]
	}
	text = strings.ToLower(text)
	label, stars := "negative", 1
	for _, p := range positive {
		if strings.Contains(text, p) {
			label, stars = "positive", 5
			break
		}
	}
	if wantJSON {
		return fmt.Sprintf(`{"sentiment": %q, "stars": %d}`, label, stars)
	}
	return label
}
