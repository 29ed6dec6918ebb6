package wasm_test

// Tests of the sandbox: each misbehaving guest is stopped, and the host
// (and the plugin) keep working afterwards.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/wasm"
)

const oneRow = "{\"a\":1}\n"

// stillWorks checks that the plugin still runs a stage after a failure.
func stillWorks(t *testing.T, p *wasm.Plugin) {
	t.Helper()
	out, _, err := run(t, specOf(t, p, "sandbox.fail"), nil, "", oneRow)
	if err != nil || out != oneRow {
		t.Fatalf("after the failure: %q, %v", out, err)
	}
}

func TestReadOutsideMountsRefused(t *testing.T) {
	need(t)
	read := specOf(t, env.sandbox, "sandbox.read_file")
	out, _, err := run(t, read, map[string]any{"path": filepath.Join(env.readDir, "inside.txt")}, "", oneRow)
	if err != nil || out != "{\"content\":\"inside\"}\n" {
		t.Fatalf("reading inside the mount: %q, %v", out, err)
	}
	secret := filepath.Join(env.secretDir, "secret.txt")
	out, _, err = run(t, read, map[string]any{"path": secret}, "", oneRow)
	if err == nil || strings.Contains(out, "secret\"") {
		t.Fatalf("reading outside the mounts: %q, %v", out, err)
	}
	if !strings.Contains(err.Error(), "sandbox.read_file") || !strings.Contains(err.Error(), secret) {
		t.Errorf("error should name the stage and the path: %v", err)
	}
	// ".." does not climb out of a mount.
	out, _, err = run(t, read, map[string]any{"path": env.readDir + "/../secret/secret.txt"}, "", oneRow)
	if err == nil {
		t.Fatalf("reading through ..: %q", out)
	}
	stillWorks(t, env.sandbox)
}

func TestWriteOnlyUnderWriteMounts(t *testing.T) {
	need(t)
	write := specOf(t, env.sandbox, "sandbox.write_file")
	target := filepath.Join(env.writeDir, "count.txt")
	if _, _, err := run(t, write, map[string]any{"path": target}, "", "{\"a\":1}\n{\"a\":2}\n"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(target); err != nil || string(b) != "2" {
		t.Fatalf("file written by the guest: %q, %v", b, err)
	}
	for _, p := range []string{filepath.Join(env.readDir, "x.txt"), filepath.Join(env.secretDir, "x.txt")} {
		if _, _, err := run(t, write, map[string]any{"path": p}, "", oneRow); err == nil {
			t.Errorf("writing %s was allowed", p)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists", p)
		}
	}
	stillWorks(t, env.sandbox)
}

func TestLoopStoppedAtTimeout(t *testing.T) {
	need(t)
	caps := sandboxCaps()
	caps.Timeout = time.Second
	p, err := wasm.Open(env.sandboxWasm, caps, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	done := make(chan error, 1)
	go func() {
		_, _, err := run(t, specOf(t, p, "sandbox.spin"), nil, "", oneRow)
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a safety net, not the assertion
		t.Fatal("the spinning guest was not stopped")
	}
	if !errors.Is(err, wasm.ErrTimeout) || !strings.Contains(err.Error(), "sandbox.spin") {
		t.Fatalf("want a timeout naming the stage, got %v", err)
	}
	stillWorks(t, p)
}

func TestMemoryLimit(t *testing.T) {
	need(t)
	_, _, err := run(t, specOf(t, env.sandbox, "sandbox.hog"), nil, "", oneRow)
	if !errors.Is(err, wasm.ErrMemoryLimit) || !strings.Contains(err.Error(), "memory_limit_mb = 64") {
		t.Fatalf("want the memory limit, got %v", err)
	}
	stillWorks(t, env.sandbox)
	if _, err := wasm.Open(env.sandboxWasm, wasm.Capabilities{MemoryLimitMB: 1}, testOpts); !errors.Is(err, wasm.ErrMemoryLimit) {
		t.Errorf("a limit below the module's initial memory: %v", err)
	}
}

func TestEnvAllowlist(t *testing.T) {
	need(t)
	t.Setenv("CONVEYOR_WASM_TEST_VISIBLE", "yes")
	t.Setenv("CONVEYOR_WASM_TEST_HIDDEN", "no")
	// The environment is read when the plugin is opened.
	p, err := wasm.Open(env.sandboxWasm, sandboxCaps(), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cfg := map[string]any{"names": []any{"CONVEYOR_WASM_TEST_VISIBLE", "CONVEYOR_WASM_TEST_HIDDEN", "PATH"}}
	out, _, err := run(t, specOf(t, p, "sandbox.env"), cfg, "", oneRow)
	want := "{\"CONVEYOR_WASM_TEST_VISIBLE\":\"yes\",\"CONVEYOR_WASM_TEST_HIDDEN\":null,\"PATH\":null}\n"
	if err != nil || out != want {
		t.Fatalf("got %q, %v; want %q", out, err, want)
	}
}

func TestGuestErrorsFollowTheStrategy(t *testing.T) {
	need(t)
	fail := specOf(t, env.sandbox, "sandbox.fail")
	good, bad := "{\"id\":1,\"bad\":false}\n", "{\"id\":2,\"bad\":true}\n{\"id\":3,\"bad\":false}\n"
	_, _, err := run(t, fail, nil, flow.StrategyStop, good, bad, good)
	var ge *wasm.GuestError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), `stage "plug"`) || !strings.Contains(err.Error(), "row 0 is bad") {
		t.Fatalf("stop: %v", err)
	}
	out, rejected, err := run(t, fail, nil, flow.StrategyContinue, good, bad, good)
	if err != nil || out != good+good {
		t.Fatalf("continue: %q, %v", out, err)
	}
	if strings.Count(rejected, "row 0 is bad") != 2 {
		t.Errorf("both rows of the failed batch should be rejected with the reason: %s", rejected)
	}
	// A panic in plugin code is recovered inside the guest: the instance
	// survives.
	_, _, err = run(t, fail, map[string]any{"panic": true}, flow.StrategyStop, bad)
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "panicked: row 0 is bad") {
		t.Fatalf("panic: %v", err)
	}
	stillWorks(t, env.sandbox)
}

func TestCrashDiscardsInstance(t *testing.T) {
	need(t)
	crash := specOf(t, env.sandbox, "sandbox.crash_once")
	before := env.sandbox.Instantiated()
	// Under stop, the crash fails the stage.
	marker := filepath.Join(env.writeDir, "crashed-stop")
	_, _, err := run(t, crash, map[string]any{"marker": marker}, flow.StrategyStop, oneRow)
	if !errors.Is(err, wasm.ErrCrashed) || !strings.Contains(err.Error(), "exited with code 3") {
		t.Fatalf("stop: %v", err)
	}
	// Under retry, the next attempt runs on a fresh instance.
	marker = filepath.Join(env.writeDir, "crashed-retry")
	out, rejected, err := run(t, crash, map[string]any{"marker": marker}, flow.StrategyRetry, oneRow)
	if err != nil || out != oneRow || rejected != "" {
		t.Fatalf("retry: %q %q %v", out, rejected, err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the first attempt did not crash: %v", err)
	}
	if n := env.sandbox.Instantiated() - before; n < 2 {
		t.Errorf("two crashed instances should have been replaced, %d were created", n)
	}
	stillWorks(t, env.sandbox)
}

func TestValidationInGuest(t *testing.T) {
	need(t)
	strict := specOf(t, env.sandbox, "sandbox.strict")
	if _, errs := flow.CheckConfig(strict, map[string]any{"limit": int64(3)}); len(errs) != 1 ||
		!strings.Contains(errs[0].Error(), "limit must be even, got 3") {
		t.Fatalf("odd limit: %v", errs)
	}
	if _, errs := flow.CheckConfig(strict, map[string]any{"limit": int64(4)}); len(errs) != 0 {
		t.Fatalf("even limit: %v", errs)
	}
	// Types, defaults and unknown keys are checked by the host from the
	// declared parameters.
	if _, errs := flow.CheckConfig(strict, map[string]any{"limt": int64(4)}); len(errs) != 1 ||
		!strings.Contains(errs[0].Error(), `did you mean "limit"`) {
		t.Fatalf("unknown key: %v", errs)
	}
	if _, errs := flow.CheckConfig(strict, map[string]any{"limit": "x"}); len(errs) != 1 {
		t.Fatalf("wrong type: %v", errs)
	}
	if _, errs := flow.CheckConfig(specOf(t, env.sandbox, "sandbox.read_file"), map[string]any{}); len(errs) != 1 ||
		!strings.Contains(errs[0].Error(), "required") {
		t.Fatalf("missing required key: %v", errs)
	}
}
