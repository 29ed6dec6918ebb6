// Package httpfetch holds http.fetch, the transform that enriches each row
// (or each group of rows) with the answer of an HTTP request built from
// the row: URL, headers and body are {{ column }} templates. Requests run
// concurrently (output order preserved) through the shared client layer
// internal/httpx (timeouts, retries with backoff honouring Retry-After,
// rate limit, auth), and an optional response cache makes repeated
// requests cost one. Rows whose request finally fails are rejected with
// the status and a body excerpt.
package httpfetch
