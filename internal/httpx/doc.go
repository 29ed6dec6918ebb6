// Package httpx is Conveyor's one HTTP client layer, shared by every stage
// that talks HTTP (http.get, http.fetch, the http.post/put/patch/delete
// sinks, and later the AI transforms).
//
// A Client applies, to every request: a per-attempt timeout, retries with
// exponential backoff and jitter on 408, 429, 5xx (except 501 and 505) and
// network errors (honouring Retry-After in seconds or as an HTTP date), a
// token-bucket rate limit, static headers, a bearer token read from an
// environment variable, and a cap on the response body size. Every wait
// (backoff, Retry-After, rate limit, timeout) runs on an injected
// clock.Clock, so tests drive it with a mock clock.
//
// Errors never carry secrets: URLs are shown with their query values and
// userinfo redacted, header values are never formatted, and the bearer
// token appears nowhere but in the Authorization header sent.
//
// Params and FromConfig turn the common stage parameters (timeout_seconds,
// retries, backoff, rate_limit, headers, bearer_token_env, ...) into
// Options, so every HTTP stage accepts the same settings.
package httpx
