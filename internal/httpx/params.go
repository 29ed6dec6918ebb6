package httpx

import (
	"fmt"
	"os"
	"time"

	"github.com/conveyor-etl/conveyor/flow"
)

// ExampleURL is the base URL the HTTP stages' spec examples use; the
// example runner replaces it with the address of an httpxtest.Server.
const ExampleURL = "http://127.0.0.1:8765"

// Params are the client settings every HTTP stage accepts. A stage adds
// them to its own parameters (it may leave some out, or document headers
// differently) and builds its Options with FromConfig.
func Params() []flow.Param {
	return []flow.Param{
		{Name: "timeout_seconds", Type: flow.TypeFloat, Default: 30.0, Min: flow.F(0),
			Doc: "Timeout of one attempt in seconds: connecting, sending and reading the whole response. 0 means none."},
		{Name: "retries", Type: flow.TypeInt, Default: int64(3), Min: flow.F(0), Max: flow.F(100), Aliases: []string{"max_retries"},
			Doc: "Retries after the first attempt on 408, 425, 429, 5xx (but 501, 505) and network errors or timeouts. 0 never retries."},
		{Name: "backoff", Type: flow.TypeDuration, Default: "500ms", Min: flow.F(0.001),
			Doc: "Wait before the first retry; doubled per retry up to backoff_max, with jitter (drawn from half to all of it). A Retry-After from the server replaces it."},
		{Name: "backoff_max", Type: flow.TypeDuration, Default: "30s", Min: flow.F(0.001),
			Doc: "Longest backoff between two attempts."},
		{Name: "max_retry_after", Type: flow.TypeDuration, Default: "5m", Min: flow.F(0.001),
			Doc: "Longest wait honoured from a Retry-After header (a longer one is cut to this)."},
		{Name: "rate_limit", Type: flow.TypeFloat, Default: 0.0, Min: flow.F(0),
			Doc: "Most requests started per second by this stage, retries included (token bucket). 0 means unlimited."},
		{Name: "burst", Type: flow.TypeInt, Min: flow.F(1),
			Doc: "Requests that may start at once before rate_limit applies (default: rate_limit rounded up)."},
		{Name: "headers", Type: flow.TypeTable,
			Doc: "Headers sent with every request, name → value. Values never appear in errors or logs."},
		{Name: "bearer_token_env", Type: flow.TypeString,
			Doc: "Name of an environment variable holding a token sent as \"Authorization: Bearer <token>\". It must be set when the stage is built; the token never appears in errors or logs."},
		{Name: "max_response_bytes", Type: flow.TypeInt, Default: int64(DefaultMaxBody), Min: flow.F(1),
			Doc: "Largest response body accepted, in bytes; a larger one fails the request."},
	}
}

// ParamNames lists the names of Params, for stages that need to tell them
// from their own.
func ParamNames() []string {
	ps := Params()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// FromConfig builds Options from a stage's validated config (the Params
// keys; absent keys keep the defaults) and its build environment (clock,
// logger). It fails, naming the key, when bearer_token_env names an unset
// or empty variable.
func FromConfig(cfg flow.Config, env flow.BuildEnv) (Options, error) {
	o := Options{Clock: env.Clock, Logger: env.Logger, MaxRetries: 3}
	if cfg.Has("timeout_seconds") {
		secs := cfg.Float("timeout_seconds")
		if secs <= 0 {
			o.Timeout = -1
		} else {
			o.Timeout = time.Duration(secs * float64(time.Second))
		}
	}
	if cfg.Has("retries") {
		o.MaxRetries = cfg.Int("retries")
	}
	o.BackoffBase = cfg.Duration("backoff")
	o.BackoffMax = cfg.Duration("backoff_max")
	o.MaxRetryAfter = cfg.Duration("max_retry_after")
	o.RateLimit = cfg.Float("rate_limit")
	o.Burst = cfg.Int("burst")
	if cfg.Has("max_response_bytes") {
		o.MaxBody = int64(cfg.Int("max_response_bytes"))
	}
	if h := cfg.Table("headers"); len(h) > 0 {
		o.Headers = make(map[string]string, len(h))
		for k, v := range h {
			o.Headers[k] = fmt.Sprint(v)
		}
	}
	if name := cfg.Str("bearer_token_env"); name != "" {
		if os.Getenv(name) == "" {
			return o, &flow.ParamError{Key: "bearer_token_env", Err: fmt.Errorf("environment variable %s is not set or empty", name)}
		}
		o.BearerEnv = name
	}
	return o, nil
}
