// Package stdio holds the standard stream connectors: stdin.read (a
// bounded read of JSON, JSON lines, CSV or raw lines until end of input)
// and stdout.write (an aligned table, JSON, JSON lines or CSV).
//
// The streams are injected: Register uses os.Stdin and os.Stdout,
// RegisterIO takes any reader and writer (tests, embedding).
package stdio
