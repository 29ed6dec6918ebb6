package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/operators/ai/aiexample"
)

// --dry-run says how many provider calls an ai.generate stage would make;
// a run shows the calls, cache hits and tokens per provider in its summary.
func TestAIDryRunAndSummary(t *testing.T) {
	srv := aiexample.ExampleServer()
	defer srv.Close()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "reviews.csv"), "id,text\n1,I love it\n2,broken on arrival\n3,great value\n")
	writeFile(t, filepath.Join(dir, "p.toml"), `[pipeline]
name = "sentiment"

[[stages]]
id = "reviews"
function = "csv.read"
[stages.config]
path = "reviews.csv"

[[stages]]
id = "label"
function = "ai.generate"
inputs = ["reviews"]
[stages.config]
provider = "ollama"
model = "llama3"
api_base_url = "`+srv.URL+`"
prompt = "Sentiment of: {{ text }}"
output_column = "sentiment"

[[stages]]
id = "out"
function = "json.write"
inputs = ["label"]
[stages.config]
path = "out.jsonl"
format = "jsonl"
`)
	r := conveyor(t, dir, nil, "run", "--dry-run", "p.toml")
	if r.code != 0 || !strings.Contains(r.stdout, "label will make at most 3 provider calls (3 rows in reviews.csv)") {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = conveyor(t, dir, nil, "run", "--log-level", "error", "p.toml")
	if r.code != 0 || !strings.Contains(r.stderr, "ai ollama: 3 calls (0 failed), 0 cache hits") {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	lines := readLines(t, filepath.Join(dir, "out.jsonl"))
	if len(lines) != 3 || !strings.Contains(lines[0], `"sentiment":"positive"`) || !strings.Contains(lines[1], `"sentiment":"negative"`) {
		t.Errorf("output: %q", lines)
	}
}
