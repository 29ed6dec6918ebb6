package wasm_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/internal/spectest"
	"github.com/conveyor-etl/conveyor/wasm/scaffold"
)

// The scaffolded project was written, built by its Makefile and opened in
// TestMain (in parallel with the other guests); here it is run.
func TestScaffold(t *testing.T) {
	need(t)
	if env.scaffoldErr != nil {
		t.Fatal(env.scaffoldErr)
	}
	p := env.scaffolded
	info := p.Info()
	if info.Name != "demo" || len(info.Stages) != 1 || info.Stages[0].Name != "demo.example" || info.Stages[0].Kind != "transform" {
		t.Fatalf("info: %+v", info)
	}
	spec := specOf(t, p, "demo.example")
	out, _, err := run(t, spec, nil, "", "{\"id\":1,\"name\":\"a\"}\n{\"id\":2,\"name\":null}\n", oneRow)
	want := "{\"id\":1,\"name\":\"a\",\"demo_seen\":true}\n{\"id\":2,\"name\":null,\"demo_seen\":true}\n{\"a\":1,\"demo_seen\":true}\n"
	if err != nil || out != want {
		t.Fatalf("got %q, %v", out, err)
	}
	spectest.RunAll(t, spec)
	for _, f := range []string{"main.go", "go.mod", "Makefile", "README.md", "guest/guest.go", "guest/exports_wasip1.go"} {
		if _, err := os.Stat(filepath.Join(env.scaffoldDir, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(env.scaffoldDir, "guest", "guest_test.go")); err == nil {
		t.Error("the SDK's tests were copied")
	}
}

func TestScaffoldRefusals(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"", "1abc", "a-b", "a.b", "a b"} {
		if err := scaffold.Scaffold(filepath.Join(dir, "x"), name); !errors.Is(err, scaffold.ErrBadName) {
			t.Errorf("%q: %v", name, err)
		}
	}
	full := filepath.Join(dir, "full")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(full, "keep.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := scaffold.Scaffold(full, "ok"); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty directory: %v", err)
	}
}

// The versions a new project pins are Conveyor's own, so that the module
// cache of a machine that built Conveyor has them.
func TestScaffoldVersionsMatchGoMod(t *testing.T) {
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Skip("no go.mod beside the sources")
	}
	have := map[string]string{}
	for _, l := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require "))
		if len(f) >= 2 {
			have[f[0]] = f[1]
		}
	}
	for _, req := range scaffold.Requires() {
		mod, ver, _ := strings.Cut(req, " ")
		if have[mod] != ver {
			t.Errorf("scaffold pins %s %s, go.mod has %q", mod, ver, have[mod])
		}
	}
}
