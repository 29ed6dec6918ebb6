// Package httpconn holds the HTTP connectors: the sources http.get (a
// paginated or polled API) and http.serve (a webhook receiver), and the
// sinks http.post, http.put, http.patch and http.delete, which send rows
// (one request per row, or per group of rows as a JSON array or NDJSON)
// to a URL templated from the row's columns.
//
// Every outgoing request goes through internal/httpx, the one shared
// client layer: timeouts, retries with backoff honouring Retry-After, rate
// limit, static headers and a bearer token from the environment.
// RegisterSources and RegisterSinks add the stages to a registry.
package httpconn
