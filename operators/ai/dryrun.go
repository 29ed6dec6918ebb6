package ai

import (
	"fmt"
	"strings"

	"github.com/conveyor-etl/conveyor/flow"
)

// EstimateCalls is what `conveyor run --dry-run` reports for an
// ai.generate stage with config cfg fed rows input rows: the number of
// provider calls it would make, which is one per row. It is an upper
// bound for text answers: rows answered from cache_dir, rows repeating a
// prompt of the run and rows whose prompt renders empty cost none, and
// which rows those are is only known once the rows are read. With
// response_format = "json" an invalid answer is asked for again, so up to
// twice as many calls may be made. rows < 0 (unknown) gives -1.
func EstimateCalls(cfg flow.Config, rows int64) int64 {
	if rows < 0 {
		return -1
	}
	return rows
}

// DryRunNote is one line describing an ai.generate stage's calls for
// `conveyor run --dry-run`, e.g.
//
//	openai gpt-4o-mini: one call per input row at most (cache hits and repeated prompts are known only when rows are read); budget 50000 tokens; cache ./ai-cache
func DryRunNote(cfg flow.Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: one call per input row at most (cache hits and repeated prompts are known only when rows are read)",
		cfg.Str("provider"), cfg.Str("model"))
	if cfg.Str("response_format") == "json" {
		b.WriteString("; up to two per row when an answer is not valid JSON")
	}
	if cfg.Has("budget") {
		fmt.Fprintf(&b, "; budget %d tokens", cfg.Int("budget"))
	}
	if d := cfg.Str("cache_dir"); d != "" {
		fmt.Fprintf(&b, "; cache %s", d)
	}
	return b.String()
}
