package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"golang.org/x/time/rate"
)

// Defaults applied by New to zero fields of Options.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffMax    = 30 * time.Second
	DefaultMaxRetryAfter = 5 * time.Minute
	DefaultMaxBody       = 32 << 20
	// DefaultMaxConnsPerHost is the idle connections kept per host, enough
	// for http.fetch's concurrency to reuse connections.
	DefaultMaxConnsPerHost = 64
)

// Options configure a Client. The zero value is usable: 30 s timeout, no
// retries, no rate limit, a 32 MiB body cap, the real clock.
type Options struct {
	// Timeout bounds one attempt (connect, send, and reading the whole
	// response body). 0 means DefaultTimeout; negative means none.
	Timeout time.Duration
	// MaxRetries is how many times a retryable failure is retried after
	// the first attempt (0: never).
	MaxRetries int
	// BackoffBase is the wait before the first retry; it doubles per retry
	// up to BackoffMax. The wait actually used is drawn uniformly from
	// [d/2, d] (jitter). 0 means the defaults (500 ms, 30 s).
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter caps a server's Retry-After (0: 5 minutes).
	MaxRetryAfter time.Duration
	// RateLimit is the most requests started per second, each attempt
	// counting (0: unlimited). Burst is the bucket size (0: the rate
	// rounded up, at least 1).
	RateLimit float64
	Burst     int
	// Headers are sent with every request (a per-call header overrides).
	Headers map[string]string
	// BearerEnv names an environment variable holding a token sent as
	// "Authorization: Bearer <token>" (it overrides an Authorization in
	// Headers). The variable is read once, by New.
	BearerEnv string
	// MaxBody caps the response body in bytes (0: 32 MiB; negative: no
	// cap). A larger body fails the request with ErrBodyTooLarge.
	MaxBody int64
	// Clock runs every wait (nil: the real clock).
	Clock clock.Clock
	// Logger receives one line per retry (nil: none).
	Logger *slog.Logger
	// Transport sends the requests (nil: a clone of
	// http.DefaultTransport keeping DefaultMaxConnsPerHost idle
	// connections per host).
	Transport http.RoundTripper
	// OnWait, when set, is called each time the client has armed a timer
	// on Clock and is about to wait on it (a backoff or a rate-limit
	// wait). It runs on the requesting goroutine; tests use it to know
	// when to advance a mock clock.
	OnWait func(Wait)
	// Rand returns a float in [0, 1) for the jitter (nil: math/rand/v2).
	Rand func() float64
}

// WaitKind says why a client waits.
type WaitKind string

const (
	WaitBackoff WaitKind = "backoff"
	WaitRate    WaitKind = "rate_limit"
)

// Wait describes one wait of the client.
type Wait struct {
	Kind  WaitKind
	Delay time.Duration
	// Attempt is the attempt that failed (1 for the first), for backoffs.
	Attempt int
	// Status is the failed attempt's HTTP status (0 for a network error).
	Status int
	// RetryAfter reports that Delay came from the server's Retry-After.
	RetryAfter bool
}

// Response is a successful answer (status below 400).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Stats are a client's counters since it was made.
type Stats struct {
	// Requests counts attempts sent; Retries the ones that were retries.
	Requests, Retries int64
	// RateWaits counts attempts delayed by the rate limit.
	RateWaits int64
}

// Client sends requests with the Options' policy. It is safe for
// concurrent use.
type Client struct {
	opts     Options
	clock    clock.Clock
	hc       *http.Client
	owned    *http.Transport
	lim      *rate.Limiter
	token    string
	tokenErr error
	rnd      func() float64

	requests, retries, rateWaits atomic.Int64
}

// New makes a client. It reads the bearer token's environment variable
// now; if it is unset, every request fails with ErrNoToken (FromConfig
// reports that earlier, as a configuration error).
func New(opts Options) *Client {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = DefaultBackoffBase
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = DefaultBackoffMax
	}
	if opts.BackoffMax < opts.BackoffBase {
		opts.BackoffMax = opts.BackoffBase
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxRetries < 0 {
		opts.MaxRetries = 0
	}
	c := &Client{opts: opts, clock: opts.Clock, rnd: opts.Rand}
	if c.clock == nil {
		c.clock = clock.New()
	}
	if c.rnd == nil {
		c.rnd = rand.Float64
	}
	rt := opts.Transport
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = DefaultMaxConnsPerHost
		t.MaxIdleConns = 4 * DefaultMaxConnsPerHost
		c.owned = t
		rt = t
	}
	// Timeouts are applied per attempt through the context, on Clock.
	c.hc = &http.Client{Transport: rt}
	if opts.RateLimit > 0 {
		burst := opts.Burst
		if burst <= 0 {
			burst = int(opts.RateLimit)
			if float64(burst) < opts.RateLimit {
				burst++
			}
			if burst < 1 {
				burst = 1
			}
		}
		c.lim = rate.NewLimiter(rate.Limit(opts.RateLimit), burst)
	}
	if opts.BearerEnv != "" {
		c.token = os.Getenv(opts.BearerEnv)
		if c.token == "" {
			c.tokenErr = fmt.Errorf("%w: %s", ErrNoToken, opts.BearerEnv)
		}
	}
	return c
}

// Options returns the client's options with defaults applied.
func (c *Client) Options() Options { return c.opts }

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{Requests: c.requests.Load(), Retries: c.retries.Load(), RateWaits: c.rateWaits.Load()}
}

// Close releases idle connections of the transport the client made.
func (c *Client) Close() {
	if c.owned != nil {
		c.owned.CloseIdleConnections()
	}
}

// Do sends one request, retrying per the options, and returns the final
// answer when its status is below 400. The body is resent as is on each
// attempt. header is added to the options' headers for this request.
//
// Errors: *StatusError for a final status of 400 or more (the
// non-retryable ones at once, the retryable ones once retries are spent);
// *RequestError for network errors, timeouts (wrapping ErrTimeout), a body
// over MaxBody (wrapping ErrBodyTooLarge) and cancellation (wrapping
// ctx.Err()). Neither carries the URL's query values or any header value.
func (c *Client) Do(ctx context.Context, method, url string, header http.Header, body []byte) (*Response, error) {
	safe := RedactURL(url)
	if c.tokenErr != nil {
		return nil, &RequestError{Method: method, URL: safe, Err: c.tokenErr}
	}
	for attempt := 1; ; attempt++ {
		if err := c.waitRate(ctx); err != nil {
			return nil, &RequestError{Method: method, URL: safe, Attempts: attempt - 1, Err: err}
		}
		if attempt > 1 {
			c.retries.Add(1)
		}
		c.requests.Add(1)
		resp, err := c.once(ctx, method, url, header, body)
		if ctx.Err() != nil {
			return nil, &RequestError{Method: method, URL: safe, Attempts: attempt, Err: ctx.Err()}
		}
		retryable, status := false, 0
		var retryAfter time.Duration
		hasRetryAfter := false
		switch {
		case err != nil:
			retryable = !errors.Is(err, ErrBodyTooLarge)
		case resp.Status >= 400:
			status = resp.Status
			retryable = Retryable(resp.Status)
			retryAfter, hasRetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), c.clock.Now())
		}
		if err == nil && status == 0 {
			return resp, nil
		}
		if !retryable || attempt > c.opts.MaxRetries {
			if err != nil {
				return nil, &RequestError{Method: method, URL: safe, Attempts: attempt, Err: err}
			}
			return nil, &StatusError{Method: method, URL: safe, Status: status,
				Body: Excerpt(resp.Body, ExcerptBytes), Header: resp.Header, Attempts: attempt}
		}
		wait := c.backoff(attempt)
		if hasRetryAfter {
			wait = min(retryAfter, c.opts.MaxRetryAfter)
		}
		if c.opts.Logger != nil {
			args := []any{"method", method, "url", safe, "attempt", attempt, "wait", wait}
			if err != nil {
				args = append(args, "error", err.Error())
			} else {
				args = append(args, "status", status)
			}
			c.opts.Logger.Info("http request retried", args...)
		}
		w := Wait{Kind: WaitBackoff, Delay: wait, Attempt: attempt, Status: status, RetryAfter: hasRetryAfter}
		if err := c.sleep(ctx, w); err != nil {
			return nil, &RequestError{Method: method, URL: safe, Attempts: attempt, Err: err}
		}
	}
}

// once sends one attempt and reads its whole body (capped). A non-nil
// Response is returned for every status.
func (c *Client) once(ctx context.Context, method, url string, header http.Header, body []byte) (*Response, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if c.opts.Timeout > 0 {
		actx, cancel = c.clock.WithTimeout(ctx, c.opts.Timeout)
	}
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("bad request: %s", stripURL(err))
	}
	req.Header.Set("User-Agent", "conveyor")
	for k, v := range c.opts.Headers {
		req.Header.Set(k, v)
	}
	for k, vs := range header {
		req.Header[http.CanonicalHeaderKey(k)] = vs
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, c.attemptErr(ctx, actx, err)
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	if c.opts.MaxBody > 0 {
		r = io.LimitReader(res.Body, c.opts.MaxBody+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, c.attemptErr(ctx, actx, err)
	}
	if c.opts.MaxBody > 0 && int64(len(data)) > c.opts.MaxBody {
		if res.StatusCode >= 400 {
			// Only an excerpt of an error body is ever used.
			data = data[:c.opts.MaxBody]
			return &Response{Status: res.StatusCode, Header: res.Header, Body: data}, nil
		}
		return nil, fmt.Errorf("%w: more than %d bytes (max_response_bytes)", ErrBodyTooLarge, c.opts.MaxBody)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: data}, nil
}

// attemptErr turns a transport error into one without the URL, telling a
// timeout of the attempt from other failures.
func (c *Client) attemptErr(parent, actx context.Context, err error) error {
	if parent.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s", ErrTimeout, c.opts.Timeout)
	}
	return errors.New(stripURL(err))
}

// stripURL returns the message of err without the URL (and so the query)
// that a *url.Error adds.
func stripURL(err error) string {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		return stripURL(ue.Err)
	}
	return err.Error()
}

// Retryable reports whether a status is worth retrying: 408, 425, 429 and
// 5xx except 501 (Not Implemented) and 505 (HTTP Version Not Supported).
func Retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500 && status <= 599
}

// ParseRetryAfter reads a Retry-After value: delay seconds or an HTTP date
// (a date in the past means no wait). ok is false when v is empty or
// malformed.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(time.Duration(1<<62)/time.Second) {
			n = int64(time.Duration(1<<62) / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

// backoff is the jittered wait after the given failed attempt (1-based):
// base·2^(attempt-1), capped at BackoffMax, drawn from [d/2, d].
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.BackoffBase
	for i := 1; i < attempt && d < c.opts.BackoffMax; i++ {
		d *= 2
	}
	if d > c.opts.BackoffMax {
		d = c.opts.BackoffMax
	}
	half := d / 2
	return half + time.Duration(c.rnd()*float64(d-half))
}

// waitRate blocks until the rate limiter lets one more attempt start.
func (c *Client) waitRate(ctx context.Context) error {
	if c.lim == nil {
		return nil
	}
	now := c.clock.Now()
	r := c.lim.ReserveN(now, 1)
	if !r.OK() {
		return errors.New("rate limiter cannot grant a request")
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	c.rateWaits.Add(1)
	if err := c.sleep(ctx, Wait{Kind: WaitRate, Delay: d}); err != nil {
		r.CancelAt(c.clock.Now())
		return err
	}
	return nil
}

// sleep waits w.Delay on the clock, or until ctx is done.
func (c *Client) sleep(ctx context.Context, w Wait) error {
	if w.Delay <= 0 {
		return ctx.Err()
	}
	t := c.clock.Timer(w.Delay)
	defer t.Stop()
	if c.opts.OnWait != nil {
		c.opts.OnWait(w)
	}
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
