package ai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/conveyor-etl/conveyor/internal/httpx"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrBudgetExhausted is wrapped by the rejection of a row left without
	// an answer because the stage's token budget was spent (and by the
	// stage's error under on_budget = "fail").
	ErrBudgetExhausted = errors.New("budget exhausted")
	// ErrInvalidJSON is wrapped by the rejection of a row whose answer,
	// with response_format = "json", was not a JSON object fitting the
	// schema, twice.
	ErrInvalidJSON = errors.New("invalid JSON answer")
)

// ErrBadAnswer (provider.go) is the third sentinel: an HTTP success whose
// body is not the provider's response.

// CallError is the error of a provider call that finally failed: an error
// status (after retries, for 429 and 5xx), a network error or timeout, or
// an answer that could not be read. Its text never holds the API key: the
// key is cut out of anything the server echoed, and the error keeps no
// reference to the underlying HTTP error (only its sentinel cause, such as
// httpx.ErrTimeout, for errors.Is).
type CallError struct {
	Provider string
	// Status is the final HTTP status (0 when there was no answer).
	Status int
	// Msg describes the failure: method, URL (query values redacted),
	// status, attempts and the provider's error message.
	Msg   string
	cause error
}

func (e *CallError) Error() string { return e.Provider + ": " + e.Msg }

// Unwrap returns the sentinel cause (httpx.ErrTimeout, ErrBadAnswer,
// context.Canceled, ...), or nil.
func (e *CallError) Unwrap() error { return e.cause }

// redactedKey replaces the API key wherever a server echoed it.
const redactedKey = "[REDACTED]"

// newCallError turns a failed call into a CallError, reading the
// provider's error message out of an error body.
func newCallError(p *provider, key string, err error) *CallError {
	ce := &CallError{Provider: p.name, Msg: err.Error()}
	var se *httpx.StatusError
	if errors.As(err, &se) {
		ce.Status = se.Status
		if text := p.errText([]byte(se.Body)); text != "" {
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s: HTTP %d", se.Method, se.URL, se.Status)
			if t := http.StatusText(se.Status); t != "" {
				b.WriteString(" " + t)
			}
			if se.Attempts > 1 {
				fmt.Fprintf(&b, " after %d attempts", se.Attempts)
			}
			b.WriteString(": " + text)
			ce.Msg = b.String()
		}
	}
	for _, s := range []error{httpx.ErrTimeout, httpx.ErrBodyTooLarge, ErrBadAnswer, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			ce.cause = s
			break
		}
	}
	ce.Msg = scrub(ce.Msg, key)
	return ce
}

// scrub removes key from s.
func scrub(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, redactedKey)
}
