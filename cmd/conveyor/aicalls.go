package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
	"github.com/conveyor-etl/conveyor/operators/ai"
)

// printAICalls tells, for every ai.generate stage, how many provider calls
// the run would make at most: one per row reaching it, bounded by the rows
// of the file its input chain reads (when that is a csv.read or json.read of
// plain files).
func printAICalls(w io.Writer, g *flow.Graph) {
	for _, n := range g.Nodes {
		if n.Spec.Name != "ai.generate" {
			continue
		}
		note := ai.DryRunNote(n.Config)
		if rows, src, ok := upstreamRows(g, n); ok {
			fmt.Fprintf(w, "  %s will make at most %d provider calls (%d rows in %s): %s\n", n.ID, ai.EstimateCalls(n.Config, rows), rows, src, note)
		} else {
			fmt.Fprintf(w, "  %s will make at most one provider call per row it receives: %s\n", n.ID, note)
		}
	}
}

// upstreamRows follows single-input stages up to a file source and counts
// its data rows.
func upstreamRows(g *flow.Graph, n *flow.Node) (int64, string, bool) {
	byID := map[string]*flow.Node{}
	for _, m := range g.Nodes {
		byID[m.ID] = m
	}
	cur := n
	for len(cur.Inputs) == 1 && cur.Inputs[0].Port == "" {
		cur = byID[cur.Inputs[0].Stage]
		if cur == nil {
			return 0, "", false
		}
	}
	if len(cur.Inputs) != 0 || (cur.Spec.Name != "csv.read" && cur.Spec.Name != "json.read") {
		return 0, "", false
	}
	// Paths are relative to the working directory, as the run reads them.
	path := cur.Config.Str("path")
	files := fileio.ExpandExisting(path)
	if len(files) == 0 {
		return 0, "", false
	}
	var rows int64
	for _, f := range files {
		n, err := countLines(f)
		if err != nil {
			return 0, "", false
		}
		if cur.Spec.Name == "csv.read" && (!cur.Config.Has("has_headers") || cur.Config.Bool("has_headers")) && n > 0 {
			n--
		}
		rows += n
	}
	return rows, strings.Join(files, ", "), true
}

func countLines(path string) (int64, error) {
	r, err := fileio.Open(path, fileio.Detect(path))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	var n int64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			n++
		}
	}
	return n, sc.Err()
}

// printAIUsage adds the AI calls of the run to the summary.
func printAIUsage(w io.Writer) {
	u := ai.Usage()
	names := make([]string, 0, len(u))
	for p := range u {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		c := u[p]
		fmt.Fprintf(w, "ai %s: %d calls (%d failed), %d cache hits, %d input + %d output tokens\n",
			p, c.Calls, c.Failed, c.CacheHits, c.InputTokens, c.OutputTokens)
	}
}
