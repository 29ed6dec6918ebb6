package ai

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/httpx"
)

const name = "ai.generate"

// DefaultOutputColumn is output_column's default.
const DefaultOutputColumn = "ai_response"

// ExampleURL is the api_base_url of the spec's examples. The example
// runner replaces it with the address of the server of package
// operators/ai/aiexample, which answers like each provider.
const ExampleURL = "http://127.0.0.1:0/ai-example"

// Register adds ai.generate to r.
func Register(r *flow.Registry) { r.Register(Spec()) }

// Spec returns ai.generate's spec (a new value on each call).
func Spec() *flow.Spec {
	params := []flow.Param{
		{Name: "provider", Type: flow.TypeString, Required: true, Allowed: []string{OpenAI, Anthropic, OpenRouter, Ollama},
			Doc: "Who answers: openai (Chat Completions), anthropic (Messages API), openrouter (OpenAI-compatible) or ollama (/api/chat)."},
		{Name: "model", Type: flow.TypeString, Required: true,
			Doc: "Model name as the provider spells it (\"gpt-4o-mini\", \"claude-haiku-4-5\", \"llama3.2\")."},
		{Name: "prompt", Type: flow.TypeString, Required: true,
			Doc: "User message template: {{ column }} is replaced by the row's value as text (null as empty). A row whose prompt renders empty gets null outputs and costs no call."},
		{Name: "system", Type: flow.TypeString,
			Doc: "System prompt template (same placeholders as prompt)."},
		{Name: "output_column", Type: flow.TypeString,
			Doc: "Column receiving the answer's text (replaced in place if it exists). Default \"ai_response\"; with response_format = \"json\" and a schema, only added when set (it then holds the JSON object)."},
		{Name: "api_key_env", Type: flow.TypeString,
			Doc: "Environment variable holding the API key (default OPENAI_API_KEY, ANTHROPIC_API_KEY or OPENROUTER_API_KEY; ollama needs none). The key is read when the stage is built and never written to logs, errors or dead-letter records."},
		{Name: "api_base_url", Type: flow.TypeString,
			Doc: "Base URL replacing the provider's (a proxy, gateway or local server); the provider's path (/chat/completions, /v1/messages, /api/chat) is appended unless the URL already ends with it."},
		{Name: "max_tokens", Type: flow.TypeInt, Default: int64(1024), Min: flow.F(1),
			Doc: "Most tokens of one answer (max_completion_tokens for openai, num_predict for ollama)."},
		{Name: "temperature", Type: flow.TypeFloat, Min: flow.F(0), Max: flow.F(2),
			Doc: "Sampling temperature; absent: the provider's default."},
		{Name: "response_format", Type: flow.TypeString, Default: "text", Allowed: []string{"text", "json"},
			Doc: "text: the answer as is. json: the model is asked for one JSON object; an answer that is not one (or does not fit schema) is asked again once, then the row is dead-lettered."},
		{Name: "schema", Type: flow.TypeTable,
			Doc: "With response_format = \"json\": field → type (int, float, bool, string, timestamp, date, json); each field becomes a typed column. Missing fields are null."},
		{Name: "concurrency", Type: flow.TypeInt, Default: int64(4), Min: flow.F(1), Max: flow.F(256),
			Doc: "Calls in flight at once; output rows keep their input order."},
		{Name: "rate_limit", Type: flow.TypeTable,
			Doc: "Pacing of the calls: { requests_per_minute = N, tokens_per_minute = M } (either or both). Tokens are reserved per call as max_tokens plus the prompt at 4 bytes per token and corrected by the answer's usage."},
		{Name: "cache_dir", Type: flow.TypeString,
			Doc: "Directory of an on-disk answer cache keyed by provider, model, prompts and parameters: a rerun answers from it without calls. Rows with the same prompt in one run make one call."},
		{Name: "budget", Type: flow.TypeInt, Min: flow.F(1),
			Doc: "Most tokens (input plus output) the stage may spend in the run; see on_budget."},
		{Name: "on_budget", Type: flow.TypeString, Default: "dead_letter", Allowed: []string{"dead_letter", "fail"},
			Doc: "When the budget is spent: dead_letter sends every row left without an answer to the dead-letter output with reason \"budget exhausted\" and lets the run finish; fail stops the pipeline with that error."},
	}
	for _, p := range httpx.Params() {
		switch p.Name {
		case "rate_limit", "burst", "bearer_token_env":
			continue // own rate_limit; the key comes from api_key_env
		case "timeout_seconds":
			p.Default = 120.0
			p.Doc = "Timeout of one call attempt in seconds, reading the whole answer included. 0 means none."
		case "headers":
			p.Doc = "Extra headers sent with every call, name → value (values never appear in errors or logs)."
		}
		params = append(params, p)
	}
	return &flow.Spec{
		Name:        name,
		Kind:        flow.KindTransform,
		Tags:        []string{"ai", "llm", "enrichment", "io"},
		Summary:     "Ask a language model (OpenAI, Anthropic, OpenRouter, Ollama) about each row.",
		Description: description,
		Params:      params,
		Check:       check,
		New:         newGenerate,
		Schema:      schemaFn,
		Uses:        uses,
		Examples: []flow.Example{
			{
				Title: "Classify reviews with OpenAI (the example server answers like the provider)",
				Config: "provider = \"openai\"\nmodel = \"gpt-4o-mini\"\napi_base_url = \"" + ExampleURL + "\"\n" +
					"prompt = \"Is this review positive or negative? Answer with one word. Review: {{ review }}\"\n" +
					"output_column = \"sentiment\"\ntemperature = 0.0\n",
				Input:  "{\"id\":1,\"review\":\"I love it\"}\n{\"id\":2,\"review\":\"Broke after a day\"}\n",
				Output: "{\"id\":1,\"review\":\"I love it\",\"sentiment\":\"positive\"}\n{\"id\":2,\"review\":\"Broke after a day\",\"sentiment\":\"negative\"}\n",
			},
			{
				Title: "Anthropic with a system prompt and a JSON schema: the fields become typed columns",
				Config: "provider = \"anthropic\"\nmodel = \"claude-haiku-4-5\"\napi_base_url = \"" + ExampleURL + "\"\n" +
					"system = \"You rate product reviews.\"\nprompt = \"Rate this review: {{ review }}\"\n" +
					"response_format = \"json\"\nschema = { sentiment = \"string\", stars = \"int\" }\n",
				Input:  "{\"review\":\"Great value\"}\n{\"review\":\"Too loud\"}\n",
				Output: "{\"review\":\"Great value\",\"sentiment\":\"positive\",\"stars\":5}\n{\"review\":\"Too loud\",\"sentiment\":\"negative\",\"stars\":1}\n",
			},
			{
				Title: "A local Ollama model answering JSON, kept as one nested column",
				Config: "provider = \"ollama\"\nmodel = \"llama3.2\"\napi_base_url = \"" + ExampleURL + "\"\n" +
					"prompt = \"Describe the sentiment of: {{ text }}\"\nresponse_format = \"json\"\noutput_column = \"analysis\"\n",
				Input:  "{\"text\":\"good enough\"}\n",
				Output: "{\"text\":\"good enough\",\"analysis\":{\"sentiment\":\"positive\",\"stars\":5}}\n",
			},
		},
	}
}

const description = `Each row fills the prompt (and system) template; the stage sends it to the provider's API and
writes the answer to output_column. Input columns are kept; output rows keep the input order
whatever the concurrency.

Providers speak their own wire format: openai POSTs to /chat/completions with
"Authorization: Bearer", anthropic to /v1/messages with x-api-key and anthropic-version,
openrouter to /chat/completions (OpenAI's format), ollama to /api/chat (stream off, no key).
api_base_url replaces the provider's base URL. The key comes from api_key_env or the provider's
usual variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENROUTER_API_KEY); it is required unless
api_base_url is set, never logged, and cut out of any error text a server echoes it in.

Calls go through the shared HTTP client: timeout_seconds per attempt, retries with backoff on
408/425/429/5xx and network errors, Retry-After honoured. A row whose call finally fails is
rejected (on_error decides: stop, or the errors port / dead-letter output) with the provider's
status and error message.

response_format = "json" asks for one JSON object (OpenAI and OpenRouter: response_format
json_object; Ollama: format json; every provider: an instruction appended to the system prompt
naming the schema's fields and types). Code fences around the object are tolerated. An answer
that is not an object fitting the schema is asked for again once; if the second answer fails
too, the row goes to the dead-letter output with the reason and an excerpt of the answer.

cache_dir keeps answers on disk, keyed by a SHA-256 of provider, model, system, prompt,
max_tokens, temperature, response format and schema (not the URL or the key); a rerun makes no
call for a prompt already answered, and rows repeating a prompt within a run share one call.

budget caps the tokens (input plus output, as the providers report them) spent in the run. A
call only starts when its reservation (max_tokens plus the prompt at 4 bytes per token) fits
beside the tokens used and reserved; when it cannot, no further call is made, an error is
logged, and every row left unanswered is dead-lettered with reason "budget exhausted"
(on_budget = "dead_letter") or the pipeline stops (on_budget = "fail"). Rows answered from the
cache cost nothing and are still answered.

When its input ends the stage logs (info, "ai.generate finished") its calls, cache hits, input
and output tokens and rejected rows.`

// settings is a validated config, parsed once.
type settings struct {
	prov         *provider
	model        string
	prompt       *httpx.Template
	system       *httpx.Template // nil: none
	outCol       string          // "": no text column
	jsonMode     bool
	fields       []arrow.Field // schema fields, in file order
	schemaText   string        // "name:type,..." for the cache key
	instruction  string        // appended to the system prompt in JSON mode
	maxTokens    int
	temperature  *float64
	concurrency  int
	rpm, tpm     float64
	cacheDir     string
	budget       int64
	failOnBudget bool
}

// jsonTypeName is the pseudo-type of a schema field kept as JSON text.
const jsonTypeName = "json"

// schemaField parses one schema entry.
func schemaField(field string, v any) (arrow.Field, error) {
	tn, ok := v.(string)
	if !ok {
		return arrow.Field{}, fmt.Errorf("field %q: the type must be a string such as \"int\"", field)
	}
	if strings.EqualFold(strings.TrimSpace(tn), jsonTypeName) {
		return arrow.Field{Name: field, Type: arrow.BinaryTypes.String, Nullable: true,
			Metadata: arrow.NewMetadata([]string{batch.MetaJSON}, []string{"true"})}, nil
	}
	dt, err := batch.ParseType(tn)
	if err != nil {
		return arrow.Field{}, fmt.Errorf("field %q: %w (or json)", field, err)
	}
	return arrow.Field{Name: field, Type: dt, Nullable: true}, nil
}

// describeType names a field's type in the JSON instruction.
func describeType(f arrow.Field) string {
	if batch.IsJSONField(f) {
		return "any JSON value"
	}
	switch f.Type.ID() {
	case arrow.STRING:
		return "string"
	case arrow.BOOL:
		return "boolean"
	case arrow.FLOAT32, arrow.FLOAT64:
		return "number"
	case arrow.TIMESTAMP:
		return "string, an RFC 3339 timestamp"
	case arrow.DATE32:
		return "string, a date YYYY-MM-DD"
	}
	return "integer"
}

var rateLimitKeys = []string{"requests_per_minute", "tokens_per_minute"}

func check(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &flow.ConfigError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	jsonMode := cfg.Str("response_format") == "json"
	if cfg.Has("schema") {
		if !jsonMode {
			bad("schema", "schema applies to response_format = \"json\" only")
		}
		if len(cfg.Table("schema")) == 0 {
			bad("schema", "must name at least one field")
		}
		for _, k := range cfg.SortedKeys("schema") {
			if _, err := schemaField(k, cfg.Table("schema")[k]); err != nil {
				bad("schema", "%v", err)
			}
			if k == cfg.Str("output_column") {
				bad("output_column", "%q is also a schema field", k)
			}
		}
	}
	if cfg.Has("output_column") && strings.TrimSpace(cfg.Str("output_column")) == "" {
		bad("output_column", "must not be empty")
	}
	if cfg.Has("rate_limit") {
		for k, v := range cfg.Table("rate_limit") {
			if !contains(rateLimitKeys, k) {
				msg := fmt.Sprintf("unknown key %q (use %s)", k, strings.Join(rateLimitKeys, " or "))
				if s := flow.Nearest(k, rateLimitKeys); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				bad("rate_limit", "%s", msg)
				continue
			}
			if f, ok := number(v); !ok || f <= 0 {
				bad("rate_limit", "%s must be a number above 0, got %v", k, v)
			}
		}
	}
	if cfg.Has("on_budget") && cfg.Str("on_budget") != "dead_letter" && !cfg.Has("budget") {
		bad("on_budget", "on_budget applies only with a budget")
	}
	if strings.TrimSpace(cfg.Str("model")) == "" && cfg.Has("model") {
		bad("model", "must not be empty")
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// parseSettings reads a config that passed check.
func parseSettings(cfg flow.Config) (*settings, error) {
	s := &settings{
		prov:        providers[cfg.Str("provider")],
		model:       cfg.Str("model"),
		prompt:      httpx.ParseTemplate(cfg.Str("prompt"), httpx.EscapeRaw),
		jsonMode:    cfg.Str("response_format") == "json",
		maxTokens:   cfg.Int("max_tokens"),
		concurrency: max(1, cfg.Int("concurrency")),
		cacheDir:    cfg.Str("cache_dir"),
		budget:      int64(cfg.Int("budget")),
	}
	if s.prov == nil {
		return nil, &flow.ParamError{Key: "provider", Err: fmt.Errorf("unknown provider %q", cfg.Str("provider"))}
	}
	if s.maxTokens <= 0 {
		s.maxTokens = 1024
	}
	if cfg.Has("system") {
		s.system = httpx.ParseTemplate(cfg.Str("system"), httpx.EscapeRaw)
	}
	if cfg.Has("temperature") {
		t := cfg.Float("temperature")
		s.temperature = &t
	}
	s.failOnBudget = cfg.Str("on_budget") == "fail"
	if rl := cfg.Table("rate_limit"); rl != nil {
		s.rpm, _ = number(rl["requests_per_minute"])
		s.tpm, _ = number(rl["tokens_per_minute"])
	}
	var parts, described []string
	for _, k := range cfg.SortedKeys("schema") {
		f, err := schemaField(k, cfg.Table("schema")[k])
		if err != nil {
			return nil, &flow.ParamError{Key: "schema", Err: err}
		}
		s.fields = append(s.fields, f)
		tn := batch.TypeName(f.Type)
		if batch.IsJSONField(f) {
			tn = jsonTypeName
		}
		parts = append(parts, k+":"+tn)
		described = append(described, fmt.Sprintf("%q (%s)", k, describeType(f)))
	}
	s.schemaText = strings.Join(parts, ",")
	switch {
	case cfg.Has("output_column"):
		s.outCol = cfg.Str("output_column")
	case !s.jsonMode || len(s.fields) == 0:
		s.outCol = DefaultOutputColumn
	}
	if s.jsonMode {
		s.instruction = "Answer with one JSON object and nothing else."
		if len(described) > 0 {
			s.instruction = "Answer with one JSON object and nothing else, with these keys: " + strings.Join(described, ", ") + "."
		}
	}
	return s, nil
}

// bind resolves the templates' columns in an input schema.
func (s *settings) bind(in *arrow.Schema) (prompt, system *httpx.Bound, err error) {
	if prompt, err = s.prompt.Bind(name, "prompt", in); err != nil {
		return nil, nil, err
	}
	if s.system != nil {
		if system, err = s.system.Bind(name, "system", in); err != nil {
			return nil, nil, err
		}
	}
	return prompt, system, nil
}

// outSchema is the input schema with output_column and the schema fields
// replaced in place or appended; outIdx (-1: none) and fieldIdx locate
// them.
func (s *settings) outSchema(in *arrow.Schema) (out *arrow.Schema, outIdx int, fieldIdx []int) {
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
	outIdx = -1
	if s.outCol != "" {
		f := arrow.Field{Name: s.outCol, Type: arrow.BinaryTypes.String, Nullable: true}
		if s.jsonMode {
			f.Metadata = arrow.NewMetadata([]string{batch.MetaJSON}, []string{"true"})
		}
		outIdx = put(f)
	}
	for _, f := range s.fields {
		fieldIdx = append(fieldIdx, put(f))
	}
	md := in.Metadata()
	return arrow.NewSchema(fields, &md), outIdx, fieldIdx
}

func schemaFn(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	s, err := parseSettings(cfg)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.bind(inputs[0]); err != nil {
		return nil, err
	}
	out, _, _ := s.outSchema(inputs[0])
	return out, nil
}

// uses: the columns the consumers need, but the stage's outputs, plus
// the templates' columns.
func uses(cfg flow.Config, needed []string) []string {
	if needed == nil {
		return nil
	}
	s, err := parseSettings(cfg)
	if err != nil {
		return nil
	}
	outputs := map[string]bool{}
	if s.outCol != "" {
		outputs[s.outCol] = true
	}
	for _, f := range s.fields {
		outputs[f.Name] = true
	}
	var cols []string
	seen := map[string]bool{}
	add := func(c string) {
		if !seen[c] {
			seen[c] = true
			cols = append(cols, c)
		}
	}
	for _, c := range needed {
		if !outputs[c] {
			add(c)
		}
	}
	for _, c := range s.prompt.Columns() {
		add(c)
	}
	if s.system != nil {
		for _, c := range s.system.Columns() {
			add(c)
		}
	}
	if cols == nil {
		cols = []string{}
	}
	return cols
}
