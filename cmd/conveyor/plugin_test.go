package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make builds a scaffolded plugin project (offline: modules come from the
// local cache, as the repository's own build left them).
func makePlugin(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "-C", dir)
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", dir, err, out)
	}
}

// plugin new → make → plugin info → a pipeline loading it (in process and
// in a child process) → plugin list.
func TestPluginWorkflowNative(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed")
	}
	dir := t.TempDir()
	r := conveyor(t, dir, nil, "plugin", "new", "geo", "--lang", "c")
	if r.code != 0 {
		t.Fatalf("plugin new: exit %d\n%s", r.code, r.stderr)
	}
	makePlugin(t, filepath.Join(dir, "geo"))
	r = conveyor(t, dir, nil, "plugin", "info", "geo/geo.so")
	if r.code != 0 || !strings.Contains(r.stdout, "geo 0.1.0 (native plugin, API 1") || !strings.Contains(r.stdout, "geo.example (transform)") {
		t.Fatalf("plugin info: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = conveyor(t, dir, nil, "plugin", "info", "--format", "json", "geo/geo.so")
	var info struct {
		Name   string `json:"name"`
		Stages []struct {
			Name   string `json:"name"`
			Params []struct {
				Name string `json:"name"`
			} `json:"params"`
		} `json:"stages"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info.Name != "geo" || len(info.Stages) != 1 || info.Stages[0].Name != "geo.example" {
		t.Fatalf("plugin info json: %v\n%s", err, r.stdout)
	}
	for _, isolation := range []string{"none", "process"} {
		writeFile(t, filepath.Join(dir, "p.toml"), `[pipeline]
name = "with_plugin"

[global]
plugins = [{ path = "geo/geo.so", isolation = "`+isolation+`" }]

[[stages]]
id = "gen"
function = "generate"
[stages.config]
count = 3
[stages.config.columns]
id = "seq"

[[stages]]
id = "mark"
function = "geo.example"
inputs = ["gen"]

[[stages]]
id = "out"
function = "stdout.write"
inputs = ["mark"]
[stages.config]
format = "jsonl"
`)
		r = conveyor(t, dir, nil, "run", "--log-level", "error", "p.toml")
		want := "{\"id\":0,\"geo_seen\":true}\n{\"id\":1,\"geo_seen\":true}\n{\"id\":2,\"geo_seen\":true}\n"
		if r.code != 0 || r.stdout != want {
			t.Errorf("isolation %s: exit %d\n%s%s", isolation, r.code, r.stdout, r.stderr)
		}
	}
	// conveyor test loads the pipeline's plugins too.
	writeFile(t, filepath.Join(dir, "p_test.toml"), `[[case]]
name = "the plugin marks every row"
[case.input.gen]
rows = [{ id = 7 }, { id = 8 }]
[case.expect.out]
rows = [{ id = 7, geo_seen = true }, { id = 8, geo_seen = true }]
`)
	if r := conveyor(t, dir, nil, "test", "p_test.toml"); r.code != 0 || !strings.Contains(r.stdout, "PASS") {
		t.Errorf("conveyor test with a plugin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = conveyor(t, dir, nil, "plugin", "list", "p.toml")
	if r.code != 0 || !strings.Contains(r.stdout, "geo 0.1.0 (native plugin") {
		t.Errorf("plugin list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// With CONVEYOR_PLUGIN_PATH the plugin's stages are listed, described
	// and usable like built-in ones.
	t.Setenv("CONVEYOR_PLUGIN_PATH", filepath.Join(dir, "geo"))
	if r := conveyor(t, dir, nil, "list"); !strings.Contains(r.stdout, "geo.example") {
		t.Errorf("list with the plugin path:\n%s%s", r.stdout, r.stderr)
	}
	if r := conveyor(t, dir, nil, "info", "geo.example"); r.code != 0 || !strings.Contains(r.stdout, "geo.example (transform)") {
		t.Errorf("info of a plugin stage: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := conveyor(t, dir, nil, "docs"); !strings.Contains(r.stdout, "### geo.example") {
		t.Errorf("generated docs lack the plugin stage")
	}
	os.Unsetenv("CONVEYOR_PLUGIN_PATH")

	// A wrong entry is refused, naming the file.
	writeFile(t, filepath.Join(dir, "bad.toml"), `[global]
plugins = ["nope/missing.so"]
[[stages]]
id = "gen"
function = "generate"
[stages.config]
count = 1
[[stages]]
id = "out"
function = "discard.write"
inputs = ["gen"]
`)
	r = conveyor(t, dir, nil, "validate", "bad.toml")
	if r.code != 2 || !strings.Contains(r.stderr, "nope/missing.so") {
		t.Errorf("missing plugin: exit %d\n%s", r.code, r.stderr)
	}
}

// The WASM scaffold builds and `plugin info` shows its stage.
func TestPluginWorkflowWASM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest for wasip1")
	}
	dir := t.TempDir()
	if r := conveyor(t, dir, nil, "plugin", "new", "gw", "--lang", "wasm"); r.code != 0 {
		t.Fatalf("plugin new: exit %d\n%s", r.code, r.stderr)
	}
	makePlugin(t, filepath.Join(dir, "gw"))
	r := conveyor(t, dir, nil, "plugin", "info", "gw/gw.wasm")
	if r.code != 0 || !strings.Contains(r.stdout, "(wasm plugin") || !strings.Contains(r.stdout, "gw.example (transform)") {
		t.Fatalf("plugin info: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
