package jsonfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// FuzzReadJSON feeds arbitrary bytes to json.read in each format under the
// continue strategy: it must never panic nor leak, whatever it rejects.
func FuzzReadJSON(f *testing.F) {
	for _, s := range []string{
		"{\"a\":1}\n{\"a\":2.5}\n",
		"[{\"a\":1},{\"b\":\"x\"}]",
		"[{\"a\":{\"n\":[1,2]}}, 3, \"s\", [], null]",
		"{\"a\":\"2024-01-01\"}\n{\"a\":\"nope\"}\n{",
		"[",
		"\xef\xbb\xbf{\"x\":true}",
		"{\"a\":1e400}\n{\"a\":-0}\n{\"a\":99999999999999999999}",
		"]",
		"",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		format := []string{"auto", "records", "jsonl"}[mode%3]
		dir := t.TempDir()
		p := filepath.Join(dir, "in.json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		res, err := flow.RunIsolated(context.Background(), ReadSpec(),
			map[string]any{"path": p, "format": format, "infer_rows": int64(1 + mode%4), "batch_size": int64(2)},
			flow.BuildEnv{Alloc: mem}, flow.StrategyContinue)
		if err != nil {
			if strings.Contains(err.Error(), "panicked") {
				t.Fatal(err)
			}
			return
		}
		res.Release()
	})
}
