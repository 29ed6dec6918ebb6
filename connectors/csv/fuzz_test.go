package csvconn

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// FuzzReadCSV parses arbitrary input with tiny chunks on several workers
// under the continue strategy: it must never panic nor leak, and every
// record must either become a row or be rejected.
func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a\n\"x\ny\"\n", "a,b\n\"unterminated\n", "a\n1\nabc\n", "\n\n", "a,b\r\n1,\"\"\"\"\r\n",
		"#c\na\n1", "a,a,\n1,2,3\n", "x\n\"a\"b\n", "\xef\xbb\xbfa\n2024-01-01\n",
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f.csv"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := map[string]any{"path": "f.csv", "comment": "#", "batch_size": 3}
		res, err := flow.RunIsolated(context.Background(), tuned(int(chunk)+1, 3), cfg,
			flow.BuildEnv{Alloc: mem, BaseDir: dir}, flow.StrategyContinue)
		if err != nil {
			return // an error (e.g. a malformed header) is an acceptable outcome
		}
		res.Release()
	})
}
