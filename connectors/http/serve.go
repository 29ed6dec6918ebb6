package httpconn

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/flow"
)

// Defaults of http.serve.
const (
	DefaultServeAddress  = "127.0.0.1:8080"
	DefaultServePath     = "/ingest"
	DefaultMaxBodyBytes  = 10 << 20
	DefaultMaxInFlight   = 16
	DefaultAcceptTimeout = time.Second
)

// The server's own timeouts on slow clients (real time: they protect the
// listener, they are not pipeline behaviour).
const (
	serveReadHeaderTimeout = 10 * time.Second
	serveReadTimeout       = 60 * time.Second
	serveIdleTimeout       = 2 * time.Minute
)

// maxReasons is how many bad records a 400 answer lists.
const maxReasons = 20

// ServeSpec is the spec of http.serve.
func ServeSpec() *flow.Spec { return serveSpec(nil) }

// serveHooks are for examples and tests: listen is the address used
// whatever the config says ("" keeps it); bound is called with the URL
// the server takes bodies on once it listens, and its error (nil: none)
// ends the run.
type serveHooks struct {
	listen string
	bound  func(ctx context.Context, url string) error
}

func serveSpec(h *serveHooks) *flow.Spec {
	params := []flow.Param{
		{Name: "address", Type: flow.TypeString, Default: DefaultServeAddress,
			Doc: "host:port to listen on. Port 0 picks a free port; the bound address is logged (\"http.serve listening\", address=...). " +
				"Use 0.0.0.0:port to accept connections from other machines."},
		{Name: "path", Type: flow.TypeString, Default: DefaultServePath,
			Doc: "URL path that takes the POSTed bodies (exactly this path; other paths are answered 404)."},
		{Name: "token_env", Type: flow.TypeString, Aliases: []string{"auth_token_env"},
			Doc: "Name of an environment variable holding a bearer token: every request must then carry " +
				"\"Authorization: Bearer <token>\" or is answered 401. The variable must be set when the pipeline starts. Absent: no authentication."},
		{Name: "max_body_bytes", Type: flow.TypeInt, Default: int64(DefaultMaxBodyBytes), Min: flow.F(1),
			Doc: "Largest request body accepted; a larger one is answered 413 without being read whole."},
		{Name: "max_in_flight", Type: flow.TypeInt, Default: int64(DefaultMaxInFlight), Min: flow.F(1),
			Doc: "Most requests read and parsed at the same time (bounding memory at about max_in_flight × max_body_bytes); " +
				"a request that finds no free slot within accept_timeout is answered 429."},
		{Name: "accept_timeout", Type: flow.TypeDuration, Default: "1s", Min: flow.F(0.001),
			Doc: "Longest wait for the pipeline to take a parsed body (and for a free slot): when the pipeline is backpressured " +
				"longer than this, the request is answered 429 with Retry-After, and nothing of it enters the pipeline."},
		{Name: "retry_after", Type: flow.TypeDuration, Default: "1s", Min: flow.F(0),
			Doc: "Delay sent in the Retry-After header of 429 and 503 answers (whole seconds, rounded up)."},
		{Name: "max_requests", Type: flow.TypeInt, Default: int64(0), Min: flow.F(0),
			Doc: "Stop after accepting this many requests (202 answers), as if drained: a bounded run for tests and replays. 0: never stop by itself."},
	}
	params = append(params, bodyParams("request body")...)
	return &flow.Spec{
		Name: "http.serve", Kind: flow.KindSource,
		Summary: "Receive rows over HTTP: a webhook endpoint turning each POSTed JSON, JSON lines or CSV body into a batch",
		Description: `http.serve listens on address and takes POST requests on path. Each request body is parsed
whole (format json, jsonl or csv) and becomes one batch; the request is answered:

- 202 Accepted, body {"accepted": n}, only once the batch has been handed into the
  pipeline (the next stage's input took it);
- 429 Too Many Requests with Retry-After when the pipeline is backpressured: the
  handoff did not happen within accept_timeout (or no slot among max_in_flight
  freed up within it). Nothing of that body entered the pipeline: send it again;
- 400 Bad Request with the reasons when the body is not in the format, or a record
  does not fit the schema (an unknown key, a value of another type): the body is
  taken whole or not at all, and the answer lists the bad records ("record 2: ...",
  "line 3: ..."; at most 20). Bad bodies are also logged (warn);
- 401 without the bearer token of token_env (or with another one), 405 for a
  method other than POST, 413 for a body over max_body_bytes, 415 for a compressed
  body (Content-Encoding), 503 while the stage shuts down.

The schema is inferred from the first body accepted (with schema's overrides) and
kept for the whole stream, as stdin.stream does: a later record with a key the
schema lacks, or a value of another type, gets its request answered 400.

The stage never ends by itself (run it with ` + "`conveyor stream`" + `) unless max_requests is set.
When the pipeline drains it stops accepting (new requests are answered 503 and the
listener closes), answers the requests already being handled, then ends.

In examples, Input holds the request bodies POSTed in turn, separated by lines "---".`,
		Tags:   []string{"http", "stream", "webhook"},
		Params: params,
		Check:  checkServe,
		Unbounded: func(cfg flow.Config) bool {
			return cfg.Int("max_requests") == 0
		},
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return newServer(cfg, env, h)
		},
		Examples: []flow.Example{
			{
				Title:  "A webhook taking JSON: an array of objects or one object per request",
				Config: "address = \"127.0.0.1:8080\"\npath = \"/events\"\nformat = \"json\"\nmax_requests = 2",
				Input: `[{"id": 1, "event": "signup"}, {"id": 2, "event": "login"}]` + "\n---\n" +
					`{"id": 3, "event": "logout"}` + "\n",
				Output: `{"id":1,"event":"signup"}` + "\n" + `{"id":2,"event":"login"}` + "\n" + `{"id":3,"event":"logout"}` + "\n",
			},
			{
				Title:  "Records inside an envelope, found by records_path",
				Config: "path = \"/hook\"\nrecords_path = \"data.items\"\nmax_requests = 1",
				Input:  `{"data": {"items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]}, "sent_at": "2024-05-01T10:00:00Z"}` + "\n",
				Output: `{"sku":"A-1","qty":2}` + "\n" + `{"sku":"B-7","qty":1}` + "\n",
			},
			{
				Title:  "CSV bodies, each with its header; the column types are fixed by the first",
				Config: "format = \"csv\"\nmax_requests = 2",
				Input:  "id,temp\n1,20.5\n2,21\n---\nid,temp\n3,19.75\n",
				Output: `{"id":1,"temp":20.5}` + "\n" + `{"id":2,"temp":21}` + "\n" + `{"id":3,"temp":19.75}` + "\n",
			},
		},
	}
}

func checkServe(cfg flow.Config) []*flow.ConfigError {
	errs := checkBodyParams(cfg)
	if a := cfg.Str("address"); a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, &flow.ConfigError{Key: "address", Message: fmt.Sprintf("%q is not host:port (e.g. %q, or %q for a free port)", a, DefaultServeAddress, "127.0.0.1:0")})
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			errs = append(errs, &flow.ConfigError{Key: "address", Message: fmt.Sprintf("port %q is not a number from 0 to 65535", port)})
		}
	}
	if p := cfg.Str("path"); !strings.HasPrefix(p, "/") {
		errs = append(errs, &flow.ConfigError{Key: "path", Message: fmt.Sprintf("%q must start with /", p)})
	}
	if e := cfg.Str("token_env"); cfg.Has("token_env") && strings.TrimSpace(e) == "" {
		errs = append(errs, &flow.ConfigError{Key: "token_env", Message: "must name an environment variable"})
	}
	return errs
}

// server is the http.serve operator.
type server struct {
	address       string
	path          string
	token         []byte
	maxBody       int64
	acceptTimeout time.Duration
	retryAfter    string
	maxRequests   int
	dec           *decoder
	hooks         *serveHooks

	clk    clock.Clock
	logger *slog.Logger
	stage  string

	// Run state.
	st       *flow.Stage
	jobs     chan *job     // handoffs, taken by Run
	stopped  chan struct{} // closed when Run takes no more handoffs
	closing  atomic.Bool   // new requests are answered 503
	slots    chan struct{} // max_in_flight
	accepted int           // owned by Run
}

// job is one parsed body waiting to be handed into the pipeline.
type job struct {
	b        arrow.RecordBatch
	deadline time.Time
	reply    chan int // the status to answer; buffered
}

func newServer(cfg flow.Config, env flow.BuildEnv, h *serveHooks) (*server, error) {
	opts, err := bodyOptionsFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &server{
		address: cfg.Str("address"), path: cfg.Str("path"),
		maxBody:       int64(cfg.Int("max_body_bytes")),
		acceptTimeout: cfg.Duration("accept_timeout"),
		maxRequests:   cfg.Int("max_requests"),
		dec:           newDecoder(opts, "request"),
		hooks:         h,
		clk:           env.Clock, logger: env.Logger, stage: env.StageID,
		slots: make(chan struct{}, max(1, cfg.Int("max_in_flight"))),
	}
	if s.address == "" {
		s.address = DefaultServeAddress
	}
	if s.path == "" {
		s.path = DefaultServePath
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.acceptTimeout <= 0 {
		s.acceptTimeout = DefaultAcceptTimeout
	}
	ra := time.Second
	if cfg.Has("retry_after") {
		ra = cfg.Duration("retry_after")
	}
	s.retryAfter = strconv.Itoa(int(math.Ceil(ra.Seconds())))
	if s.clk == nil {
		s.clk = clock.New()
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if name := cfg.Str("token_env"); name != "" {
		tok := os.Getenv(name)
		if strings.TrimSpace(tok) == "" {
			return nil, &flow.ParamError{Key: "token_env", Err: fmt.Errorf("environment variable %s is not set or empty", name)}
		}
		s.token = []byte(tok)
	}
	if h != nil && h.listen != "" {
		s.address = h.listen
	}
	return s, nil
}

// Run listens, hands the parsed bodies into the pipeline one at a time,
// and shuts the server down when the pipeline drains, max_requests is
// reached or ctx ends.
func (s *server) Run(ctx context.Context, st *flow.Stage) error {
	return stageErr(st, s.run(ctx, st))
}

func (s *server) run(ctx context.Context, st *flow.Stage) error {
	ln, err := net.Listen("tcp", s.address)
	if err != nil {
		return fmt.Errorf("http.serve: listening on %s: %w", s.address, err)
	}
	bound := ln.Addr().String()
	s.st = st
	s.jobs = make(chan *job)
	s.stopped = make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc(s.path, s.handle)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		IdleTimeout:       serveIdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	url := "http://" + bound + s.path
	s.logger.Info("http.serve listening", "address", bound, "path", s.path, "url", url)

	var hookErr chan error
	var hookDone chan struct{}
	if s.hooks != nil && s.hooks.bound != nil {
		hookErr = make(chan error, 1)
		hookDone = make(chan struct{})
		hctx, cancel := context.WithCancel(ctx)
		defer func() { cancel(); <-hookDone }()
		go func() {
			defer close(hookDone)
			if err := s.hooks.bound(hctx, url); err != nil {
				hookErr <- err
			}
		}()
	}

	var shutdownDone chan struct{}
	shutdown := func() {
		if shutdownDone != nil {
			return
		}
		s.closing.Store(true)
		shutdownDone = make(chan struct{})
		go func() {
			defer close(shutdownDone)
			// Closes the listener and idle connections, then waits for
			// the requests being handled (their handoffs are still
			// taken below). A hard cancel (ctx) cuts the wait short.
			_ = srv.Shutdown(ctx)
		}()
	}
	hardStop := func() {
		close(s.stopped)
		srv.Close()
		if shutdownDone != nil {
			<-shutdownDone
		}
		if serveErr != nil {
			<-serveErr
		}
	}
	drain := st.Draining()
	for {
		select {
		case j := <-s.jobs:
			j.reply <- s.handoff(ctx, st, j)
			if s.maxRequests > 0 && s.accepted >= s.maxRequests {
				shutdown()
			}
		case <-drain:
			drain = nil
			shutdown()
		case <-shutdownDone:
			if ctx.Err() != nil {
				hardStop()
				return ctx.Err()
			}
			close(s.stopped)
			if serveErr != nil {
				<-serveErr
			}
			s.logger.Info("http.serve stopped", "address", bound, "accepted", s.accepted)
			return nil
		case err := <-serveErr:
			serveErr = nil
			if !errors.Is(err, http.ErrServerClosed) {
				hardStop()
				return fmt.Errorf("http.serve on %s: %w", bound, err)
			}
		case err := <-hookErr:
			hardStop()
			return err
		case <-ctx.Done():
			hardStop()
			return ctx.Err()
		}
	}
}

// handoff emits a parsed body on the stage's goroutine, within the job's
// deadline, and says what to answer.
func (s *server) handoff(ctx context.Context, st *flow.Stage, j *job) int {
	if s.maxRequests > 0 && s.accepted >= s.maxRequests {
		j.b.Release()
		return http.StatusServiceUnavailable
	}
	ectx, cancel := s.clk.WithDeadline(ctx, j.deadline)
	defer cancel()
	n := j.b.NumRows()
	if err := st.Emit(ectx, j.b); err != nil {
		// The batch was not taken (Emit released it): do not count it.
		m := st.Metrics()
		m.BatchesOut.Add(-1)
		m.RowsOut.Add(-n)
		if ctx.Err() != nil {
			return http.StatusServiceUnavailable
		}
		return http.StatusTooManyRequests
	}
	s.accepted++
	return http.StatusAccepted
}

// handle answers one request (on the server's goroutine for it).
func (s *server) handle(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() || isClosed(s.st.Draining()) {
		w.Header().Set("Connection", "close")
		s.unavailable(w)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": fmt.Sprintf("method %s not allowed: POST the body to %s", r.Method, s.path)})
		return
	}
	if s.token != nil && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="conveyor"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "missing or wrong bearer token"})
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": fmt.Sprintf("Content-Encoding %q is not supported: send the body uncompressed", ce)})
		return
	}
	if r.ContentLength > s.maxBody {
		s.tooLarge(w)
		return
	}
	// A slot among max_in_flight bounds the bodies held in memory.
	t := s.clk.Timer(s.acceptTimeout)
	select {
	case s.slots <- struct{}{}:
		t.Stop()
	case <-t.C:
		s.busy(w, "too many requests in flight")
		return
	case <-s.stopped:
		t.Stop()
		s.unavailable(w)
		return
	case <-r.Context().Done():
		t.Stop()
		return
	}
	defer func() { <-s.slots }()

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.tooLarge(w)
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "reading the body: " + err.Error()})
		return
	}
	s.st.Metrics().BytesRead.Add(int64(len(body)))
	b, bad, err := s.dec.decode(r.Context(), s.st.Alloc, s.clk, body, true)
	if err != nil || len(bad) > 0 {
		if b != nil {
			b.Release()
		}
		s.badRequest(w, r, err, bad)
		return
	}
	if b == nil {
		writeJSON(w, http.StatusAccepted, map[string]any{"accepted": 0})
		return
	}
	n := b.NumRows()
	j := &job{b: b, deadline: s.clk.Now().Add(s.acceptTimeout), reply: make(chan int, 1)}
	t = s.clk.Timer(s.acceptTimeout)
	defer t.Stop()
	var code int
	select {
	case s.jobs <- j:
		code = <-j.reply
	case <-t.C:
		b.Release()
		code = http.StatusTooManyRequests
	case <-s.stopped:
		b.Release()
		code = http.StatusServiceUnavailable
	case <-r.Context().Done():
		b.Release()
		return
	}
	switch code {
	case http.StatusAccepted:
		writeJSON(w, code, map[string]any{"accepted": n})
	case http.StatusTooManyRequests:
		s.busy(w, "the pipeline is backpressured: nothing was accepted, send the body again later")
	default:
		s.unavailable(w)
	}
}

func (s *server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), s.token) == 1
}

func (s *server) tooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": fmt.Sprintf("body larger than max_body_bytes (%d bytes)", s.maxBody)})
}

func (s *server) busy(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", s.retryAfter)
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": msg})
}

func (s *server) unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", s.retryAfter)
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "the stage is shutting down: nothing was accepted"})
}

type rejectedRecord struct {
	Where  string `json:"where"`
	Reason string `json:"reason"`
}

func (s *server) badRequest(w http.ResponseWriter, r *http.Request, err error, bad []badRecord) {
	resp := map[string]any{}
	var msg string
	if err != nil {
		msg = err.Error()
	} else {
		list := make([]rejectedRecord, 0, min(len(bad), maxReasons))
		for _, b := range bad[:min(len(bad), maxReasons)] {
			list = append(list, rejectedRecord{Where: b.where, Reason: b.err.Error()})
		}
		msg = fmt.Sprintf("%d bad record(s), nothing was accepted; first: %s", len(bad), bad[0])
		resp["rejected"] = list
	}
	resp["error"] = msg
	s.logger.Warn("http.serve: bad request body", "remote", r.RemoteAddr, "error", msg)
	writeJSON(w, http.StatusBadRequest, resp)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	js, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(js)+1))
	w.WriteHeader(code)
	_, _ = w.Write(append(js, '\n'))
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
