package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrTimeout is wrapped by the error of an attempt that exceeded the
	// per-attempt timeout (and of a request whose last attempt did).
	ErrTimeout = errors.New("request timed out")
	// ErrBodyTooLarge is wrapped when a response body exceeds MaxBody.
	ErrBodyTooLarge = errors.New("response body too large")
	// ErrNoToken is returned when BearerEnv names an unset or empty
	// environment variable.
	ErrNoToken = errors.New("bearer token environment variable is not set")
)

// ExcerptBytes is the most bytes of a response body quoted in an error.
const ExcerptBytes = 200

// StatusError is the error of a request whose final answer had a status of
// 400 or more (after retries, for the retryable ones).
type StatusError struct {
	Method string
	// URL is redacted (see RedactURL).
	URL    string
	Status int
	// Body is an excerpt of the response body (at most ExcerptBytes bytes,
	// cut at a character boundary, "…" appended when cut).
	Body string
	// Header is the final response's header.
	Header http.Header
	// Attempts is how many requests were made.
	Attempts int
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: HTTP %d", e.Method, e.URL, e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": body %q", e.Body)
	}
	return b.String()
}

// RequestError is the error of a request that got no usable answer: a
// network error, a timeout, a body too large, or a cancelled context.
type RequestError struct {
	Method string
	// URL is redacted (see RedactURL).
	URL      string
	Attempts int
	Err      error
}

func (e *RequestError) Error() string {
	s := fmt.Sprintf("%s %s: %v", e.Method, e.URL, e.Err)
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

// Unwrap returns the cause.
func (e *RequestError) Unwrap() error { return e.Err }

// Excerpt returns at most max bytes of body as text, cut at a UTF-8
// boundary, with "…" appended when cut.
func Excerpt(body []byte, max int) string {
	if len(body) <= max {
		return strings.ToValidUTF8(string(body), "\uFFFD")
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return strings.ToValidUTF8(string(body[:cut]), "\uFFFD") + "…"
}

// RedactURL returns u fit for errors and logs: the password of any userinfo
// and every query value are replaced by "REDACTED" (query keys stay, so the
// shape of the request is visible; a bare "?value" is redacted whole), and
// the fragment is dropped. A string
// that does not parse is reduced to the part before any '?'.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			return u[:i]
		}
		return u
	}
	if p.User != nil {
		if _, has := p.User.Password(); has {
			p.User = url.UserPassword(p.User.Username(), "REDACTED")
		}
	}
	p.Fragment, p.RawFragment = "", ""
	if p.RawQuery != "" {
		parts := strings.Split(p.RawQuery, "&")
		for i, kv := range parts {
			k, _, has := strings.Cut(kv, "=")
			if has {
				parts[i] = k + "=REDACTED"
			} else if k != "" {
				parts[i] = "REDACTED" // a bare value may be a key
			}
		}
		p.RawQuery = strings.Join(parts, "&")
	}
	return p.String()
}
