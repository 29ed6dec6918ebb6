// Package ai holds ai.generate, the transform that asks a language model
// about each row: a prompt (and system) template filled from the row is
// sent to OpenAI (Chat Completions), Anthropic (Messages), OpenRouter
// (OpenAI-compatible) or Ollama (/api/chat), each in its own wire format,
// and the answer becomes a column, or, with response_format = "json" and a
// schema, typed columns.
//
// Calls go through the shared HTTP client (internal/httpx): per-attempt
// timeout, retries with backoff on 429 and 5xx honouring Retry-After,
// requests-per-minute pacing. The stage adds tokens-per-minute pacing, a
// token budget for the run, an on-disk answer cache with in-flight
// deduplication, and usage accounting (calls, cache hits, tokens per
// provider; see Usage). The API key is read from the environment and never
// written to logs, errors or dead-letter records.
//
// EstimateCalls and DryRunNote serve `conveyor run --dry-run`; ExampleURL
// is the base URL of the spec examples, served by package aiexample.
package ai
