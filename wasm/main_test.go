package wasm_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/wasm"
	"github.com/conveyor-etl/conveyor/wasm/scaffold"
)

// The guests are built once per test binary (building and compiling an
// Arrow-using guest takes seconds), in TestMain, concurrently where they
// do not compete for the Go build cache; the compilation cache is the
// user's, shared with every run.
var env struct {
	dir                       string // scratch root
	readDir, writeDir         string // the sandbox's mounts
	secretDir                 string // not mounted
	rowtoolsWasm, sandboxWasm string
	scaffoldDir               string
	rowtools, sandbox         *wasm.Plugin // shared plugins
	scaffolded                *wasm.Plugin // the project Scaffold wrote, built by make
	scaffoldErr               error        // scaffold, make, open
	err                       error
}

// sandboxCaps are the shared sandbox plugin's capabilities.
func sandboxCaps() wasm.Capabilities {
	return wasm.Capabilities{
		AllowRead:     []string{env.readDir},
		AllowWrite:    []string{env.writeDir},
		MemoryLimitMB: 64,
		Timeout:       10 * time.Second,
		Env:           []string{"CONVEYOR_WASM_TEST_VISIBLE"},
	}
}

var testOpts = wasm.Options{CacheDir: wasm.DefaultCacheDir()}

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "conveyor-wasm-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		env.err = setup(dir)
		code := m.Run()
		for _, p := range []*wasm.Plugin{env.rowtools, env.sandbox, env.scaffolded} {
			if p != nil {
				p.Close()
			}
		}
		if code == 0 {
			if err := goleak.Find(); err != nil {
				fmt.Fprintln(os.Stderr, "goleak:", err)
				return 1
			}
		}
		return code
	}()
	os.Exit(code)
}

func setup(dir string) error {
	env.dir = dir
	env.readDir = filepath.Join(dir, "read")
	env.writeDir = filepath.Join(dir, "write")
	env.secretDir = filepath.Join(dir, "secret")
	for _, d := range []string{env.readDir, env.writeDir, env.secretDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(env.readDir, "inside.txt"), []byte("inside"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(env.secretDir, "secret.txt"), []byte("secret"), 0o644); err != nil {
		return err
	}
	env.rowtoolsWasm = filepath.Join(dir, "rowtools.wasm")
	env.sandboxWasm = filepath.Join(dir, "sandbox.wasm")
	env.scaffoldDir = filepath.Join(dir, "scaffolded", "demo")
	// The first build compiles Arrow for wasip1 into the build cache; the
	// others then only compile their own package and link.
	if err := buildGuest("./examples/rowtools", env.rowtoolsWasm); err != nil {
		return err
	}
	var wg sync.WaitGroup
	var sandboxErr, rowErr error
	wg.Go(func() {
		if sandboxErr = buildGuest("./examples/sandbox", env.sandboxWasm); sandboxErr == nil {
			env.sandbox, sandboxErr = wasm.Open(env.sandboxWasm, sandboxCaps(), testOpts)
		}
	})
	wg.Go(func() { env.rowtools, rowErr = wasm.Open(env.rowtoolsWasm, wasm.Capabilities{}, testOpts) })
	wg.Go(func() {
		if env.scaffoldErr = scaffoldAndMake(env.scaffoldDir, "demo"); env.scaffoldErr == nil {
			env.scaffolded, env.scaffoldErr = wasm.Open(filepath.Join(env.scaffoldDir, "demo.wasm"), wasm.Capabilities{}, testOpts)
		}
	})
	wg.Wait()
	return errors.Join(sandboxErr, rowErr)
}

// buildGuest builds the guest package pkg (relative to this directory)
// into out.
func buildGuest(pkg, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// scaffoldAndMake writes a new plugin project and builds it with its
// Makefile, offline: every module it needs must be in the module cache.
func scaffoldAndMake(dir, name string) error {
	if err := scaffold.Scaffold(dir, name); err != nil {
		return err
	}
	cmd := exec.Command("make")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("make in %s: %v\n%s", dir, err, b)
	}
	return nil
}

// need fails the test when the shared setup failed.
func need(t testing.TB) {
	t.Helper()
	if env.err != nil {
		t.Fatalf("setup: %v", env.err)
	}
}
