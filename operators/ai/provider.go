package ai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Provider names, as written in `provider`.
const (
	OpenAI     = "openai"
	Anthropic  = "anthropic"
	OpenRouter = "openrouter"
	Ollama     = "ollama"
)

// AnthropicVersion is the anthropic-version header sent to the Messages API.
const AnthropicVersion = "2023-06-01"

// provider is one provider's wire format: where requests go, how they are
// authenticated, how bodies are written and answers read.
type provider struct {
	name string
	// base is the default API base URL; path is appended to it (or to
	// api_base_url) to make the endpoint.
	base, path string
	// keyEnv is the environment variable usually holding the API key
	// ("": the provider needs none).
	keyEnv string
	// header returns the headers of a request (the key may be "").
	header func(key string) http.Header
	// body encodes a request.
	body func(r *callRequest) ([]byte, error)
	// parse reads a successful answer. On error the reply may still
	// carry the usage the answer reported (a refusal costs tokens).
	parse func(body []byte) (reply, error)
	// errText extracts the provider's error message from an error body
	// ("" when it has none it recognises).
	errText func(body []byte) string
}

// callRequest is one completion request, already rendered.
type callRequest struct {
	model       string
	system      string
	prompt      string
	maxTokens   int
	temperature *float64
	json        bool // ask for a JSON object
}

// reply is what a provider answered.
type reply struct {
	text string
	// in and out are the tokens the provider reports; usage is false when
	// the answer reported none.
	in, out int64
	usage   bool
}

var providers = map[string]*provider{
	OpenAI: {
		name: OpenAI, base: "https://api.openai.com/v1", path: "/chat/completions", keyEnv: "OPENAI_API_KEY",
		header: bearer, body: openAIBody("max_completion_tokens"), parse: parseOpenAI, errText: errObject,
	},
	OpenRouter: {
		name: OpenRouter, base: "https://openrouter.ai/api/v1", path: "/chat/completions", keyEnv: "OPENROUTER_API_KEY",
		header: func(key string) http.Header {
			h := bearer(key)
			h.Set("X-Title", "Conveyor")
			return h
		},
		body: openAIBody("max_tokens"), parse: parseOpenAI, errText: errObject,
	},
	Anthropic: {
		name: Anthropic, base: "https://api.anthropic.com", path: "/v1/messages", keyEnv: "ANTHROPIC_API_KEY",
		header: func(key string) http.Header {
			h := http.Header{}
			h.Set("Content-Type", "application/json")
			h.Set("anthropic-version", AnthropicVersion)
			if key != "" {
				h.Set("x-api-key", key)
			}
			return h
		},
		body: anthropicBody, parse: parseAnthropic, errText: errObject,
	},
	Ollama: {
		name: Ollama, base: "http://localhost:11434", path: "/api/chat",
		header: bearer, body: ollamaBody, parse: parseOllama, errText: errObject,
	},
}

// endpoint is the URL requests are posted to: the base (api_base_url or
// the provider's) with the provider's path appended, unless the base
// already ends with that path.
func (p *provider) endpoint(base string) string {
	if base == "" {
		base = p.base
	}
	base = strings.TrimRight(base, "/")
	if strings.HasSuffix(base, p.path) {
		return base
	}
	return base + p.path
}

func bearer(key string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	return h
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func messages(r *callRequest) []chatMessage {
	var m []chatMessage
	if r.system != "" {
		m = append(m, chatMessage{Role: "system", Content: r.system})
	}
	return append(m, chatMessage{Role: "user", Content: r.prompt})
}

// openAIBody encodes a Chat Completions request; tokensKey is the name of
// the output token limit (OpenAI's max_completion_tokens, OpenRouter's
// max_tokens).
func openAIBody(tokensKey string) func(r *callRequest) ([]byte, error) {
	return func(r *callRequest) ([]byte, error) {
		body := map[string]any{
			"model":    r.model,
			"messages": messages(r),
		}
		if r.maxTokens > 0 {
			body[tokensKey] = r.maxTokens
		}
		if r.temperature != nil {
			body["temperature"] = *r.temperature
		}
		if r.json {
			body["response_format"] = map[string]string{"type": "json_object"}
		}
		return json.Marshal(body)
	}
}

func parseOpenAI(body []byte) (reply, error) {
	var resp struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
				Refusal *string `json:"refusal"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage *struct {
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return reply{}, fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	if len(resp.Error) > 0 && string(resp.Error) != "null" {
		// OpenRouter may report a provider failure in a 200 answer.
		return reply{}, fmt.Errorf("%w: error in answer: %s", ErrBadAnswer, errMessage(resp.Error))
	}
	if len(resp.Choices) == 0 {
		return reply{}, fmt.Errorf("%w: no choices", ErrBadAnswer)
	}
	msg := resp.Choices[0].Message
	var r reply
	if resp.Usage != nil {
		r.in, r.out, r.usage = resp.Usage.PromptTokens, resp.Usage.CompletionTokens, true
	}
	switch {
	case msg.Content != nil:
		r.text = *msg.Content
	case msg.Refusal != nil:
		// The tokens were spent: the reply keeps the usage.
		return r, fmt.Errorf("%w: the model refused: %s", ErrBadAnswer, *msg.Refusal)
	}
	return r, nil
}

func anthropicBody(r *callRequest) ([]byte, error) {
	body := map[string]any{
		"model":      r.model,
		"max_tokens": r.maxTokens,
		"messages":   []chatMessage{{Role: "user", Content: r.prompt}},
	}
	if r.system != "" {
		body["system"] = r.system
	}
	if r.temperature != nil {
		body["temperature"] = *r.temperature
	}
	return json.Marshal(body)
}

func parseAnthropic(body []byte) (reply, error) {
	var resp struct {
		Type    string `json:"type"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		StopReason string `json:"stop_reason"`
		Usage      *struct {
			InputTokens              int64 `json:"input_tokens"`
			OutputTokens             int64 `json:"output_tokens"`
			CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
			CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
		} `json:"usage"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return reply{}, fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	if resp.Type == "error" {
		return reply{}, fmt.Errorf("%w: error in answer: %s", ErrBadAnswer, errMessage(resp.Error))
	}
	var r reply
	var text strings.Builder
	for _, c := range resp.Content {
		if c.Type == "text" {
			text.WriteString(c.Text)
		}
	}
	if resp.Content == nil {
		return reply{}, fmt.Errorf("%w: no content", ErrBadAnswer)
	}
	r.text = text.String()
	if u := resp.Usage; u != nil {
		r.in = u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens
		r.out, r.usage = u.OutputTokens, true
	}
	return r, nil
}

func ollamaBody(r *callRequest) ([]byte, error) {
	opts := map[string]any{}
	if r.maxTokens > 0 {
		opts["num_predict"] = r.maxTokens
	}
	if r.temperature != nil {
		opts["temperature"] = *r.temperature
	}
	body := map[string]any{
		"model":    r.model,
		"messages": messages(r),
		"stream":   false,
	}
	if len(opts) > 0 {
		body["options"] = opts
	}
	if r.json {
		body["format"] = "json"
	}
	return json.Marshal(body)
}

func parseOllama(body []byte) (reply, error) {
	var resp struct {
		Message *struct {
			Content string `json:"content"`
		} `json:"message"`
		Done            bool    `json:"done"`
		PromptEvalCount *int64  `json:"prompt_eval_count"`
		EvalCount       *int64  `json:"eval_count"`
		Error           *string `json:"error"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return reply{}, fmt.Errorf("%w: %v", ErrBadAnswer, err)
	}
	if resp.Error != nil {
		return reply{}, fmt.Errorf("%w: error in answer: %s", ErrBadAnswer, *resp.Error)
	}
	if resp.Message == nil {
		return reply{}, fmt.Errorf("%w: no message", ErrBadAnswer)
	}
	r := reply{text: resp.Message.Content}
	if resp.PromptEvalCount != nil || resp.EvalCount != nil {
		r.usage = true
		if resp.PromptEvalCount != nil {
			r.in = *resp.PromptEvalCount
		}
		if resp.EvalCount != nil {
			r.out = *resp.EvalCount
		}
	}
	return r, nil
}

// errObject reads the error of an error body: {"error": {"type", "code",
// "message"}} (OpenAI, OpenRouter), {"type": "error", "error": {"type",
// "message"}} (Anthropic) or {"error": "message"} (Ollama).
func errObject(body []byte) string {
	var doc struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil || len(doc.Error) == 0 {
		return ""
	}
	return errMessage(doc.Error)
}

// errMessage renders an "error" member: a string, or an object with type,
// code and message.
func errMessage(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(raw, &obj) != nil {
		return string(bytes.TrimSpace(raw))
	}
	var parts []string
	if obj.Type != "" {
		parts = append(parts, obj.Type)
	}
	if c := strings.Trim(string(obj.Code), `"`); c != "" && c != "null" && c != obj.Type {
		parts = append(parts, c)
	}
	if obj.Message != "" {
		parts = append(parts, obj.Message)
	}
	return strings.Join(parts, ": ")
}

// ErrBadAnswer is wrapped by the error of a successful HTTP answer the
// stage could not read as the provider's response.
var ErrBadAnswer = errors.New("unreadable provider answer")
