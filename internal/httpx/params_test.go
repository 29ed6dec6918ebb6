package httpx

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/conveyor-etl/conveyor/flow"
)

func checked(t *testing.T, raw map[string]any) flow.Config {
	t.Helper()
	spec := &flow.Spec{Name: "http.test", Params: Params()}
	cfg, errs := flow.CheckConfig(spec, raw)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return cfg
}

func TestFromConfigDefaults(t *testing.T) {
	mock := clock.NewMock()
	o, err := FromConfig(checked(t, map[string]any{}), flow.BuildEnv{Clock: mock})
	if err != nil {
		t.Fatal(err)
	}
	if o.Timeout != 30*time.Second || o.MaxRetries != 3 || o.BackoffBase != 500*time.Millisecond ||
		o.BackoffMax != 30*time.Second || o.MaxRetryAfter != 5*time.Minute || o.RateLimit != 0 ||
		o.MaxBody != DefaultMaxBody || o.Clock != mock || o.BearerEnv != "" {
		t.Fatalf("%+v", o)
	}
}

func TestFromConfigAll(t *testing.T) {
	t.Setenv("HTTPX_PARAMS_TOKEN", "tok")
	cfg := checked(t, map[string]any{
		"timeout_seconds": int64(0), "max_retries": int64(7), "backoff": "1s", "backoff_max": "4s",
		"max_retry_after": "10s", "rate_limit": 2.5, "burst": int64(4),
		"headers": map[string]any{"X-A": "a", "X-N": int64(3)}, "bearer_token_env": "HTTPX_PARAMS_TOKEN",
		"max_response_bytes": int64(1000),
	})
	o, err := FromConfig(cfg, flow.BuildEnv{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Timeout >= 0 || o.MaxRetries != 7 || o.BackoffBase != time.Second || o.BackoffMax != 4*time.Second ||
		o.MaxRetryAfter != 10*time.Second || o.RateLimit != 2.5 || o.Burst != 4 || o.MaxBody != 1000 ||
		o.Headers["X-A"] != "a" || o.Headers["X-N"] != "3" || o.BearerEnv != "HTTPX_PARAMS_TOKEN" {
		t.Fatalf("%+v", o)
	}
}

func TestFromConfigMissingToken(t *testing.T) {
	t.Setenv("HTTPX_PARAMS_TOKEN", "")
	_, err := FromConfig(checked(t, map[string]any{"bearer_token_env": "HTTPX_PARAMS_TOKEN"}), flow.BuildEnv{})
	var pe *flow.ParamError
	if !errors.As(err, &pe) || pe.Key != "bearer_token_env" || !strings.Contains(err.Error(), "HTTPX_PARAMS_TOKEN") {
		t.Fatalf("err = %v", err)
	}
}

func TestRetryLogHasNoSecrets(t *testing.T) {
	t.Setenv("HTTPX_PARAMS_TOKEN", "tok-zzz")
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n++; n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	opts, mock, waits := driven(Options{MaxRetries: 1, Logger: log, BearerEnv: "HTTPX_PARAMS_TOKEN",
		Headers: map[string]string{"X-Api-Key": "hdr-yyy"}})
	c := New(opts)
	defer c.Close()
	done := doAsync(c, "GET", srv.URL+"/p?key=q-xxx", nil)
	mock.Add((<-waits).Delay)
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	out := buf.String()
	if !strings.Contains(out, "http request retried") || !strings.Contains(out, "status=503") || !strings.Contains(out, "key=REDACTED") {
		t.Fatalf("log %q", out)
	}
	for _, secret := range []string{"tok-zzz", "hdr-yyy", "q-xxx"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log leaks %s: %q", secret, out)
		}
	}
}
