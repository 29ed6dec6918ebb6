package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"text/template"

	"github.com/conveyor-etl/conveyor/wasm"
)

// ErrBadName is returned for a plugin name that cannot be a stage prefix,
// a column prefix and a Go module path at once.
var ErrBadName = errors.New("invalid plugin name")

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// guestModules are the modules the guest SDK's packages come from, pinned
// in the new project's go.mod at the versions Conveyor itself uses, so that
// a machine that built Conveyor has them in its module cache. (A test
// checks them against Conveyor's go.mod; a released binary's build info
// overrides them.)
var guestModules = map[string]string{
	"github.com/apache/arrow-go/v18": "v18.8.0",
	"github.com/goccy/go-json":       "v0.10.6",
	"github.com/google/flatbuffers":  "v25.12.19+incompatible",
	"github.com/klauspost/compress":  "v1.20.4",
	"github.com/klauspost/cpuid/v2":  "v2.4.0",
	"github.com/pierrec/lz4/v4":      "v4.1.33",
	"github.com/zeebo/xxh3":          "v1.1.0",
	"golang.org/x/exp":               "v0.0.0-20260112195511-716be5621a96",
	"golang.org/x/sys":               "v0.48.0",
}

// Scaffold writes a plugin project named name into dir (created; it must
// not exist or be empty):
//
//	dir/main.go     the plugin: one transform, NAME.example, that passes
//	                rows through and adds the bool column NAME_seen = true
//	dir/guest/      a copy of the guest SDK
//	dir/go.mod      module NAME, requiring Apache Arrow for Go
//	dir/Makefile    `make` builds dir/NAME.wasm (needs Go 1.25 or later)
//	dir/README.md   how to build, load and change it
func Scaffold(dir, name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use letters, digits and underscores, starting with a letter", ErrBadName, name)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("scaffold: %s exists and is not empty", dir)
	}
	files := map[string]string{}
	data := struct {
		Name     string
		Requires []string
	}{Name: name, Requires: Requires()}
	for path, tmpl := range templates {
		var buf bytes.Buffer
		t := template.Must(template.New(path).Delims("[[", "]]").Parse(tmpl))
		if err := t.Execute(&buf, data); err != nil {
			return err
		}
		files[path] = buf.String()
	}
	sdk := wasm.GuestSDK()
	entries, err := fs.ReadDir(sdk, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(sdk, e.Name())
		if err != nil {
			return err
		}
		files[filepath.Join("guest", e.Name())] = sdkHeader + string(b)
	}
	for path, content := range files {
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("scaffold: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("scaffold: %w", err)
		}
	}
	return nil
}

const sdkHeader = "// Copied from Conveyor's Go guest SDK (package wasm/guest) by\n// `conveyor plugin new`. Replace it with a newer copy to update.\n\n"

// Requires lists the new project's go.mod requirements ("module
// version"): the versions this binary was built with where its build
// information has them, Conveyor's go.mod versions otherwise.
func Requires() []string {
	versions := map[string]string{}
	for m, v := range guestModules {
		versions[m] = v
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			if _, want := versions[d.Path]; want && d.Version != "" && d.Version != "(devel)" {
				versions[d.Path] = d.Version
			}
		}
	}
	var out []string
	for m, v := range versions {
		if v != "" {
			out = append(out, m+" "+v)
		}
	}
	sort.Strings(out)
	return out
}

var templates = map[string]string{
	"go.mod": `module [[.Name]]

go 1.25.0

require (
[[- range .Requires]]
	[[.]]
[[- end]]
)
`,
	"Makefile": `# Builds [[.Name]].wasm, a Conveyor WASM plugin (WASI reactor module).
GO ?= go

[[.Name]].wasm: $(wildcard *.go guest/*.go) go.mod
	GOOS=wasip1 GOARCH=wasm $(GO) build -mod=mod -trimpath -buildmode=c-shared -o $@ .

clean:
	rm -f [[.Name]].wasm

.PHONY: clean
`,
	"main.go": `// Command [[.Name]] is a Conveyor WASM plugin. Build it with make.
package main

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"[[.Name]]/guest"
)

func init() {
	guest.Register(guest.Plugin{
		Name:        "[[.Name]]",
		Version:     "0.1.0",
		Description: "The [[.Name]] plugin.",
		Stages: []guest.Stage{{
			Name:        "[[.Name]].example",
			Kind:        guest.KindTransform,
			Summary:     "Pass rows through and add the column [[.Name]]_seen = true.",
			Description: "Every input row is emitted unchanged, with one more bool column, [[.Name]]_seen, set to true.",
			Examples: []guest.Example{{
				Title:  "Mark rows",
				Config: "",
				Input:  "{\"id\":1}\n{\"id\":2}\n",
				Output: "{\"id\":1,\"[[.Name]]_seen\":true}\n{\"id\":2,\"[[.Name]]_seen\":true}\n",
			}},
			New: guest.Func(markSeen),
		}},
	})
}

// main is never called: the host calls the stages.
func main() {}

// markSeen returns in with the column [[.Name]]_seen = true appended.
func markSeen(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	n := int(in.NumRows())
	b := array.NewBooleanBuilder(guest.Allocator)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		b.UnsafeAppend(true)
	}
	seen := b.NewArray()
	defer seen.Release()
	fields := append(append([]arrow.Field(nil), in.Schema().Fields()...),
		arrow.Field{Name: "[[.Name]]_seen", Type: arrow.FixedWidthTypes.Boolean})
	cols := append(append([]arrow.Array(nil), in.Columns()...), seen)
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, in.NumRows()), nil
}
`,
	"README.md": `# [[.Name]]: a Conveyor WASM plugin

Build it (Go 1.25 or later):

    make            # writes [[.Name]].wasm

Load it from a pipeline:

    [global]
    plugins = ["[[.Name]]/[[.Name]].wasm"]

    [["[["]]stages]]
    id = "mark"
    function = "[[.Name]].example"
    inputs = ["load"]

` + "`conveyor plugin info [[.Name]]/[[.Name]].wasm`" + ` lists its stages. Add stages in main.go:
each declares its parameters, examples and a constructor; guest/ is a copy of
Conveyor's guest SDK (see its doc.go for the rules on batch ownership).
The plugin runs sandboxed: it sees only the directories, environment
variables, memory and time the pipeline grants it (see docs/wasm.md).
`,
}
