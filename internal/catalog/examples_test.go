package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/connectors/stdio"
	"github.com/conveyor-etl/conveyor/flow"
)

// TestEverySpecExample runs every example of every registered stage: a
// transform's Input through the stage must give its Output; a source over
// its Files must give its Output; a sink fed Input must leave WantFiles.
func TestEverySpecExample(t *testing.T) {
	reg := Registry()
	for _, spec := range reg.Specs() {
		if spec.Summary == "" {
			t.Errorf("%s has no summary", spec.Name)
		}
		if len(spec.Examples) == 0 {
			t.Errorf("%s has no example", spec.Name)
		}
		for i, ex := range spec.Examples {
			t.Run(spec.Name+"/"+ex.Title, func(t *testing.T) {
				runExample(t, spec, i, ex)
			})
		}
	}
}

func runExample(t *testing.T, spec *flow.Spec, i int, ex flow.Example) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var raw map[string]any
	if _, err := toml.Decode(ex.Config, &raw); err != nil {
		t.Fatalf("example %d config is not TOML: %v", i, err)
	}
	// The stdio stages read and print the example's Input and Output.
	var printed *bytes.Buffer
	switch spec.Name {
	case "stdin.read":
		spec = stdio.ReadSpec(strings.NewReader(ex.Input))
		ex.Input = ""
	case "stdout.write":
		printed = &bytes.Buffer{}
		spec = stdio.WriteSpec(printed)
	}
	dir := t.TempDir()
	for name, content := range ex.Files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var inputs [][]arrow.RecordBatch
	if spec.Kind != flow.KindSource && spec.Name != "stdin.read" {
		if strings.TrimSpace(ex.Input) == "" {
			t.Fatalf("a %s example needs Input rows", spec.Kind)
		}
		inputs = append(inputs, []arrow.RecordBatch{ndjsonBatch(t, mem, ex.Input)})
	}
	env := flow.BuildEnv{StageID: "example", Alloc: mem, BaseDir: dir}
	res, err := flow.RunIsolated(context.Background(), spec, raw, env, flow.StrategyStop, inputs...)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	defer res.Release()
	if printed != nil {
		if printed.String() != ex.Output {
			t.Errorf("printed:\n%s\nwant:\n%s", printed, ex.Output)
		}
	} else if spec.Kind != flow.KindSink || ex.Output != "" {
		var got []any
		for _, b := range res.Output {
			for _, r := range batch.Rows(b) {
				got = append(got, normalizeJSON(t, r))
			}
		}
		want := parseNDJSON(t, ex.Output)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("output differs\n got: %s\nwant: %s", dump(got), dump(want))
		}
	}
	for name, want := range ex.WantFiles {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("file %s:\n got: %q\nwant: %q", name, b, want)
		}
	}
}

func ndjsonBatch(t *testing.T, mem memory.Allocator, text string) arrow.RecordBatch {
	t.Helper()
	b, err := batch.FromNDJSON(mem, text, nil)
	if err != nil {
		t.Fatalf("example input: %v", err)
	}
	return b
}

func parseNDJSON(t *testing.T, text string) []any {
	t.Helper()
	var out []any
	dec := json.NewDecoder(strings.NewReader(text))
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("example output: %v", err)
		}
		out = append(out, v)
	}
	return out
}

func normalizeJSON(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

func dump(rows []any) string {
	var buf bytes.Buffer
	for _, r := range rows {
		b, _ := json.Marshal(r)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.String()
}
