package plugins_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugins"
)

// The test binary doubles as the plugin host of process isolation: started
// as `plugins.test plugin-host FILE`, it runs plugins.HostMain, exactly as
// `conveyor plugin-host FILE` does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == plugins.HostCommand {
		os.Exit(plugins.HostMain(os.Args[2:]))
	}
	dir, err := os.MkdirTemp("", "conveyor-plugins-test")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		// Every plugin-host child was reaped, every pipe copier ended
		// (instances that flow.RunIsolated left are freed by the GC).
		collectGarbage()
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// buildDir holds the libraries the tests build (once per test binary).
var (
	buildDir string
	buildMu  sync.Mutex
	built    = map[string]string{}
)

// build runs a build command once per key and returns the output path.
func build(t testing.TB, key string, tool string, args func(out string) []string, dir string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed: native plugins cannot be built")
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[key]; ok {
		return p
	}
	sum := sha256.Sum256([]byte(key))
	out := filepath.Join(buildDir, hex.EncodeToString(sum[:6])+".so")
	cmd := exec.Command(tool, args(out)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(cmd.Args[1:], " "), err, b)
	}
	built[key] = out
	return out
}

// cPlugin builds plugins/examples/c with extra gcc flags.
func cPlugin(t testing.TB, flags ...string) string {
	return cLibrary(t, filepath.Join("examples", "c", "cexample.c"), flags...)
}

// cLibrary builds one C file as a shared library.
func cLibrary(t testing.TB, src string, flags ...string) string {
	abs, _ := filepath.Abs(src)
	inc, _ := filepath.Abs("include")
	return build(t, "c "+abs+" "+strings.Join(flags, " "), "gcc", func(out string) []string {
		return append([]string{"-O2", "-fPIC", "-shared", "-I" + inc, "-o", out, abs}, flags...)
	}, "")
}

// goPlugin builds plugins/examples/go with -buildmode=c-shared.
func goPlugin(t testing.TB) string {
	return build(t, "go examples/go", "go", func(out string) []string {
		return []string{"build", "-buildmode=c-shared", "-o", out, "./examples/go"}
	}, ".")
}

func open(t testing.TB, path, isolation string) *plugins.Plugin {
	t.Helper()
	// CONVEYOR_PLUGIN_HOST runs the isolation tests against a built
	// conveyor binary instead of this test binary.
	p, err := plugins.Open(path, plugins.Options{Isolation: isolation, HostBinary: os.Getenv("CONVEYOR_PLUGIN_HOST")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// registry holds the CSV and JSON connectors and the plugins' stages.
func registry(t testing.TB, ps ...*plugins.Plugin) *flow.Registry {
	t.Helper()
	r := flow.NewRegistry()
	csvconn.Register(r)
	jsonfile.Register(r)
	for _, p := range ps {
		if err := p.Register(r); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// runPipeline runs a pipeline file's text in dir on mem.
func runPipeline(t testing.TB, reg *flow.Registry, dir, src string, mem memory.Allocator) (*flow.Runner, error) {
	t.Helper()
	path := filepath.Join(dir, "pipeline.toml")
	f, err := flow.Parse(path, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem, BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return r, r.Run(ctx)
}

// collectGarbage runs the garbage collector until the cleanups of
// operators that a test run left behind had their chance to run.
func collectGarbage() {
	for range 3 {
		runtime.GC()
		runtime.Gosched()
	}
}

func writeFile(t testing.TB, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
