package flow

import (
	"strings"
	"testing"
)

// FuzzLoadPipeline feeds arbitrary text to the loader and validator: they
// must never panic, and an invalid file must give errors, not a graph.
func FuzzLoadPipeline(f *testing.F) {
	seeds := []string{
		"",
		"[pipeline]\nname = \"x\"\n",
		"[[stages]]\nid = \"g\"\nfunction = \"test.gen\"\n[stages.config]\nrows = 3\n[[stages]]\nid = \"o\"\nfunction = \"test.collect\"\ninputs = [\"g\"]\n",
		"[[stages]]\nid = \"a\"\nfunction = \"test.double\"\ninputs = [\"a.errors\", \"b\"]\n",
		"[global]\nbatch_size = -1\n[global.variables]\nx = \"${HOME}\"\n",
		"[error_handling]\nstrategy = \"retry\"\n[error_handling.dead_letter_queue]\npath = 3\n",
		"[[stages]]\nid = \"g\"\ntype = \"source.test\"\nconfig = { rows = \"many\", pause = \"5 fortnights\" }\n",
		"stages = 5\n",
		"[[stages]]\nid=\"x\"\ninputs=\"{{v}}\"\n[global.variables]\nv=\"x\"\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, src string) {
		file, err := Parse("fuzz.toml", []byte(src))
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		g, err := Validate(file, reg)
		if err == nil && len(g.Nodes) == 0 {
			t.Fatal("valid graph without stages")
		}
	})
}
