package httpx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// driven returns options on a mock clock whose every wait is reported on
// the returned channel; the test advances the clock by the wait.
func driven(opts Options) (Options, *clock.Mock, chan Wait) {
	mock := clock.NewMock()
	waits := make(chan Wait, 100)
	opts.Clock = mock
	opts.OnWait = func(w Wait) { waits <- w }
	opts.Rand = func() float64 { return 0.999999999 } // the upper bound of the jitter
	return opts, mock, waits
}

type result struct {
	resp *Response
	err  error
}

func doAsync(c *Client, method, url string, body []byte) chan result {
	ch := make(chan result, 1)
	go func() {
		r, err := c.Do(context.Background(), method, url, nil, body)
		ch <- result{r, err}
	}()
	return ch
}

func TestRetryAfterSecondsThenSuccess(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, "slow down")
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	opts, mock, waits := driven(Options{MaxRetries: 3, BackoffBase: time.Second})
	c := New(opts)
	defer c.Close()
	done := doAsync(c, "GET", srv.URL+"/x", nil)
	w := <-waits
	if w.Kind != WaitBackoff || w.Delay != 7*time.Second || !w.RetryAfter || w.Status != 429 || w.Attempt != 1 {
		t.Fatalf("wait = %+v, want the 7 s Retry-After after a 429", w)
	}
	mock.Add(7*time.Second - time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("returned before Retry-After elapsed: %+v", r)
	default:
	}
	if hits.Load() != 1 {
		t.Fatalf("retried before Retry-After elapsed")
	}
	mock.Add(time.Millisecond)
	r := <-done
	if r.err != nil || r.resp.Status != 200 || string(r.resp.Body) != `{"ok":true}` {
		t.Fatalf("got %+v, %v", r.resp, r.err)
	}
	if s := c.Stats(); s.Requests != 2 || s.Retries != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	var hits atomic.Int32
	mockStart := clock.NewMock().Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", mockStart.Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "fine")
	}))
	defer srv.Close()
	opts, mock, waits := driven(Options{MaxRetries: 1})
	c := New(opts)
	defer c.Close()
	done := doAsync(c, "GET", srv.URL, nil)
	w := <-waits
	if w.Delay != 90*time.Second || !w.RetryAfter {
		t.Fatalf("wait = %+v, want 90 s from the Retry-After date", w)
	}
	mock.Add(w.Delay)
	if r := <-done; r.err != nil || string(r.resp.Body) != "fine" {
		t.Fatalf("got %+v, %v", r.resp, r.err)
	}
}

func TestRetryAfterCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "86400")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	opts, mock, waits := driven(Options{MaxRetries: 1, MaxRetryAfter: time.Minute})
	c := New(opts)
	defer c.Close()
	done := doAsync(c, "GET", srv.URL, nil)
	w := <-waits
	if w.Delay != time.Minute {
		t.Fatalf("wait %v, want the 1m cap", w.Delay)
	}
	mock.Add(w.Delay)
	r := <-done
	var se *StatusError
	if !errors.As(r.err, &se) || se.Status != 429 || se.Attempts != 2 {
		t.Fatalf("err = %v", r.err)
	}
}

func TestServerErrorsUntilRetryLimit(t *testing.T) {
	var hits atomic.Int32
	long := strings.Repeat("é", 300) // 600 bytes of two-byte characters
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, long)
	}))
	defer srv.Close()
	opts, mock, waits := driven(Options{MaxRetries: 3, BackoffBase: 100 * time.Millisecond, BackoffMax: 300 * time.Millisecond})
	c := New(opts)
	defer c.Close()
	done := doAsync(c, "POST", srv.URL+"/items?api_key=hunter2&page=3", []byte(`{"a":1}`))
	var delays []time.Duration
	for range 3 {
		w := <-waits
		if w.RetryAfter || w.Status != 500 {
			t.Fatalf("wait %+v", w)
		}
		delays = append(delays, w.Delay)
		mock.Add(w.Delay)
	}
	r := <-done
	// Exponential, capped, at the top of the jitter range.
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	for i := range want {
		if d := want[i] - delays[i]; d < 0 || d > time.Microsecond {
			t.Fatalf("delays %v, want %v", delays, want)
		}
	}
	if hits.Load() != 4 {
		t.Fatalf("%d requests, want 4 (1 + 3 retries)", hits.Load())
	}
	var se *StatusError
	if !errors.As(r.err, &se) {
		t.Fatalf("err %T %v, want *StatusError", r.err, r.err)
	}
	if se.Status != 500 || se.Attempts != 4 || se.Method != "POST" {
		t.Fatalf("%+v", se)
	}
	if len(se.Body) > ExcerptBytes+len("…") || !strings.HasSuffix(se.Body, "…") || !strings.HasPrefix(se.Body, "éé") {
		t.Fatalf("body excerpt %q (%d bytes)", se.Body, len(se.Body))
	}
	msg := r.err.Error()
	for _, want := range []string{"POST", srv.URL + "/items?api_key=REDACTED&page=REDACTED", "HTTP 500 Internal Server Error", "after 4 attempts", "éé"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error leaks the query secret: %q", msg)
	}
}

func TestJitterRange(t *testing.T) {
	c := New(Options{BackoffBase: time.Second, BackoffMax: 8 * time.Second, Rand: func() float64 { return 0 }})
	defer c.Close()
	for attempt, want := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 3: 2 * time.Second, 4: 4 * time.Second, 9: 4 * time.Second} {
		if got := c.backoff(attempt); got != want {
			t.Errorf("backoff(%d) with jitter 0 = %v, want %v", attempt, got, want)
		}
	}
	c2 := New(Options{BackoffBase: time.Second, BackoffMax: 8 * time.Second})
	defer c2.Close()
	seen := map[time.Duration]bool{}
	for range 50 {
		d := c2.backoff(2)
		if d < time.Second || d > 2*time.Second {
			t.Fatalf("backoff(2) = %v, outside [1s, 2s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Fatalf("jitter hardly varies: %d distinct values in 50", len(seen))
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no such thing", http.StatusNotFound)
	}))
	defer srv.Close()
	c := New(Options{MaxRetries: 5, Clock: clock.NewMock()})
	defer c.Close()
	_, err := c.Do(context.Background(), "GET", srv.URL+"/nope", nil, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 404 || se.Attempts != 1 || se.Body != "no such thing\n" {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("a 404 was retried")
	}
}

func TestSlowResponseHitsTimeout(t *testing.T) {
	arrived := make(chan struct{}, 4)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			arrived <- struct{}{}
			<-r.Context().Done() // slower than any timeout: until the client gives up
			return
		}
		io.WriteString(w, "late but fine")
	}))
	defer srv.Close()

	// No retries: the timeout is the error.
	mock := clock.NewMock()
	c := New(Options{Timeout: 2 * time.Second, Clock: mock})
	defer c.Close()
	done := doAsync(c, "GET", srv.URL+"/slow?token=abc", nil)
	<-arrived
	mock.Add(2 * time.Second)
	r := <-done
	var re *RequestError
	if !errors.Is(r.err, ErrTimeout) || !errors.As(r.err, &re) || re.Attempts != 1 {
		t.Fatalf("err = %v, want a timeout", r.err)
	}
	if msg := r.err.Error(); !strings.Contains(msg, "timed out after 2s") || !strings.Contains(msg, "/slow?token=REDACTED") || strings.Contains(msg, "abc") {
		t.Fatalf("error %q", msg)
	}

	// With a retry: the second attempt times out too... the third answers.
	opts, mock2, waits := driven(Options{Timeout: 2 * time.Second, MaxRetries: 2, BackoffBase: time.Second})
	c2 := New(opts)
	defer c2.Close()
	done = doAsync(c2, "GET", srv.URL+"/slow", nil)
	<-arrived
	mock2.Add(2 * time.Second)
	w := <-waits
	mock2.Add(w.Delay)
	r = <-done
	if r.err != nil || string(r.resp.Body) != "late but fine" {
		t.Fatalf("got %+v, %v", r.resp, r.err)
	}
	if s := c2.Stats(); s.Requests != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNetworkErrorRetriedThenClear(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/gone?secret=xyz"
	srv.Close() // nothing listens there any more
	opts, mock, waits := driven(Options{MaxRetries: 2})
	c := New(opts)
	defer c.Close()
	done := doAsync(c, "GET", url, nil)
	for range 2 {
		w := <-waits
		if w.Status != 0 {
			t.Fatalf("wait %+v", w)
		}
		mock.Add(w.Delay)
	}
	r := <-done
	var re *RequestError
	if !errors.As(r.err, &re) || re.Attempts != 3 {
		t.Fatalf("err = %v", r.err)
	}
	msg := r.err.Error()
	if strings.Contains(msg, "xyz") || !strings.Contains(msg, "secret=REDACTED") || !strings.Contains(msg, "after 3 attempts") {
		t.Fatalf("error %q", msg)
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	opts, _, waits := driven(Options{MaxRetries: 5})
	c := New(opts)
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(ctx, "GET", srv.URL, nil, nil)
		done <- err
	}()
	<-waits
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want cancelled", err)
	}
}

func TestRateLimitOnMockClock(t *testing.T) {
	mock := clock.NewMock()
	var mu sync.Mutex
	var at []time.Duration
	start := mock.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, mock.Now().Sub(start))
		mu.Unlock()
	}))
	defer srv.Close()
	waits := make(chan Wait, 10)
	c := New(Options{RateLimit: 10, Burst: 2, Clock: mock, OnWait: func(w Wait) { waits <- w }})
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		for range 5 {
			if _, err := c.Do(context.Background(), "GET", srv.URL, nil, nil); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 3 {
		w := <-waits
		if w.Kind != WaitRate || w.Delay != 100*time.Millisecond {
			t.Fatalf("wait %+v, want 100ms for the rate limit", w)
		}
		mock.Add(w.Delay)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	mu.Lock()
	defer mu.Unlock()
	if len(at) != len(want) {
		t.Fatalf("requests at %v", at)
	}
	for i := range want {
		if at[i] != want[i] {
			t.Fatalf("requests at %v (mock time), want %v", at, want)
		}
	}
	if s := c.Stats(); s.RateWaits != 3 || s.Requests != 5 {
		t.Fatalf("stats %+v", s)
	}
}

func TestRateLimitConcurrent(t *testing.T) {
	// 20 goroutines at 5/s with a burst of 5: 5 start at once, and each
	// further 200 ms of mock time lets exactly one more through.
	mock := clock.NewMock()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	var waiting atomic.Int32
	c := New(Options{RateLimit: 5, Burst: 5, Clock: mock, OnWait: func(Wait) { waiting.Add(1) }})
	defer c.Close()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Do(context.Background(), "GET", srv.URL, nil, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	waitFor(t, func() bool { return hits.Load() == 5 && waiting.Load() == 15 })
	for i := int32(1); i <= 15; i++ {
		mock.Add(200 * time.Millisecond)
		waitFor(t, func() bool { return hits.Load() == 5+i })
	}
	wg.Wait()
}

// waitFor polls cond (real time) until it holds or 5 s pass: for
// observing other goroutines, not for timing semantics.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHeadersAndBearer(t *testing.T) {
	t.Setenv("HTTPX_TEST_TOKEN", "s3cr3t-token")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cr3t-token" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, r.Header.Get("X-Static")+"|"+r.Header.Get("X-Call")+"|"+r.Header.Get("Content-Type")+"|"+string(body))
	}))
	defer srv.Close()
	c := New(Options{Headers: map[string]string{"X-Static": "s", "Authorization": "ignored"}, BearerEnv: "HTTPX_TEST_TOKEN"})
	defer c.Close()
	h := http.Header{}
	h.Set("X-Call", "c")
	h.Set("Content-Type", "application/json")
	resp, err := c.Do(context.Background(), "PUT", srv.URL, h, []byte(`[1]`))
	if err != nil || string(resp.Body) != "s|c|application/json|[1]" {
		t.Fatalf("got %+v %v", resp, err)
	}

	// A wrong token: the error names the status, never the token.
	t.Setenv("HTTPX_TEST_TOKEN", "other-token")
	c2 := New(Options{BearerEnv: "HTTPX_TEST_TOKEN"})
	defer c2.Close()
	_, err = c2.Do(context.Background(), "GET", srv.URL, nil, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 401 {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "other-token") || strings.Contains(err.Error(), "Bearer") {
		t.Fatalf("token in error: %v", err)
	}

	t.Setenv("HTTPX_TEST_TOKEN", "")
	c3 := New(Options{BearerEnv: "HTTPX_TEST_TOKEN"})
	defer c3.Close()
	if _, err := c3.Do(context.Background(), "GET", srv.URL, nil, nil); !errors.Is(err, ErrNoToken) || !strings.Contains(err.Error(), "HTTPX_TEST_TOKEN") {
		t.Fatalf("err = %v", err)
	}
}

func TestBodyCap(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/err" {
			w.WriteHeader(http.StatusBadRequest)
		}
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	c := New(Options{MaxBody: 10, MaxRetries: 3})
	defer c.Close()
	if _, err := c.Do(context.Background(), "GET", srv.URL, nil, nil); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("a too large body was retried")
	}
	resp, err := New(Options{MaxBody: 100}).Do(context.Background(), "GET", srv.URL, nil, nil)
	if err != nil || len(resp.Body) != 100 {
		t.Fatalf("a body of exactly the cap: %v", err)
	}
	// An error body over the cap is cut, not an error of its own.
	_, err = c.Do(context.Background(), "GET", srv.URL+"/err", nil, nil)
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 400 || se.Body != strings.Repeat("x", 10) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{" 12 ", 12 * time.Second, true},
		{"-1", 0, false},
		{"", 0, false},
		{"soon", 0, false},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Fri, 02 Jan 2026 03:06:05 GMT", 2 * time.Minute, true},
	} {
		got, ok := ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.example.com/v1/users/42":                  "https://api.example.com/v1/users/42",
		"https://api.example.com/x?api_key=abc&page=2":         "https://api.example.com/x?api_key=REDACTED&page=REDACTED",
		"https://user:pw@example.com/x?abc#frag":               "https://user:REDACTED@example.com/x?REDACTED",
		"http://[::1]:namedport/x?k=secret":                    "http://[::1]:namedport/x",
		"https://api.example.com/search?q=a%20b&token=t%3D%3D": "https://api.example.com/search?q=REDACTED&token=REDACTED",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	if got := Excerpt([]byte("short"), 200); got != "short" {
		t.Fatal(got)
	}
	if got := Excerpt([]byte("aé"), 2); got != "a…" {
		t.Fatalf("%q: must cut before a split character", got)
	}
	if got := Excerpt([]byte{0xff, 'a'}, 10); got != "\uFFFDa" {
		t.Fatalf("%q", got)
	}
}

func TestRetryable(t *testing.T) {
	for s, want := range map[int]bool{200: false, 400: false, 404: false, 408: true, 429: true, 500: true, 501: false, 502: true, 503: true, 504: true, 505: false} {
		if Retryable(s) != want {
			t.Errorf("Retryable(%d) != %v", s, want)
		}
	}
}
