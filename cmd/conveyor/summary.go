package main

import (
	"fmt"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/conveyor-etl/conveyor/batch"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conveyor-etl/conveyor/flow"
)

// printPlan prints the stages of a validated pipeline in run order.
func printPlan(w io.Writer, g *flow.Graph, schemas map[string]*arrow.Schema) {
	name := g.File.Pipeline.Name
	if name == "" {
		name = g.File.Path
	}
	fmt.Fprintf(w, "pipeline %q is valid: %d stages (channel capacity %d, batch size %d)\n",
		name, len(g.Nodes), g.File.Global.ChannelCapacity, g.File.Global.BatchSize)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  STAGE\tFUNCTION\tKIND\tINPUTS\tON ERROR")
	for _, n := range g.Nodes {
		ins := make([]string, len(n.Inputs))
		for i, in := range n.Inputs {
			ins[i] = in.String()
		}
		in := strings.Join(ins, ", ")
		if in == "" {
			in = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", n.ID, n.Spec.Name, n.Spec.Kind, in, n.Strategy)
	}
	tw.Flush()
	proj := g.Projection()
	for _, n := range g.Nodes {
		if cols, ok := proj[n.ID]; ok {
			fmt.Fprintf(w, "  %s reads only the columns the pipeline uses: %s\n", n.ID, strings.Join(cols, ", "))
		}
	}
	printAICalls(w, g)
	if len(schemas) > 0 {
		fmt.Fprintln(w, "schemas:")
		for _, n := range g.Nodes {
			if s, ok := schemas[n.ID]; ok {
				fmt.Fprintf(w, "  %s: %s\n", n.ID, schemaText(s))
			}
		}
	}
}

// schemaText renders a schema on one line: "name type, ...".
func schemaText(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = f.Name + " " + batch.TypeName(f.Type)
	}
	return strings.Join(parts, ", ")
}

// printSummary prints the end-of-run table: rows in and out per stage,
// time, throughput and dead-lettered rows.
func printSummary(w io.Writer, g *flow.Graph, r *flow.Runner, runErr error) {
	name := g.File.Pipeline.Name
	if name == "" {
		name = g.File.Path
	}
	elapsed := r.Elapsed()
	status := "finished"
	if runErr != nil {
		status = "failed"
	}
	fmt.Fprintf(w, "\npipeline %q %s in %s\n", name, status, roundDur(elapsed))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	report := r.Report()
	state := false // a blocking stage reported the memory its state held
	for _, s := range report {
		state = state || s.PeakBytes > 0
	}
	head := "stage\tfunction\trows in\trows out\tbatches out\trejected\tblocked\ttime\t"
	if state {
		head += "state peak\t"
	}
	fmt.Fprintln(tw, head)
	var srcRows, srcBytes int64
	for _, s := range report {
		in, out := fmt.Sprint(s.RowsIn), fmt.Sprint(s.RowsOut)
		if s.Kind == "source" {
			in = "-"
			srcRows += s.RowsOut
			srcBytes += s.BytesRead
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t", s.ID, s.Function, in, out, s.BatchesOut,
			s.Rejected, roundDur(s.Blocked), roundDur(s.Elapsed))
		if state {
			peak := "-"
			if s.PeakBytes > 0 {
				peak = bytesText(s.PeakBytes)
			}
			fmt.Fprintf(tw, "%s\t", peak)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if secs := elapsed.Seconds(); secs > 0 {
		line := fmt.Sprintf("throughput: %s rows/s", human(float64(srcRows)/secs))
		if srcBytes > 0 {
			line += fmt.Sprintf(", %.1f MB/s read", float64(srcBytes)/secs/1e6)
		}
		fmt.Fprintln(w, line)
	}
	if n := r.DeadLettered(); n > 0 {
		where := "logged as warnings"
		if dl := g.File.ErrorHandling.DeadLetter; dl.Enabled {
			where = "written to " + dl.Path
		}
		fmt.Fprintf(w, "dead-lettered: %d rows (%s)\n", n, where)
	}
	printAIUsage(w)
}

// bytesText renders a byte count with a binary unit: 512 B, 3.2 MiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func roundDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func human(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
