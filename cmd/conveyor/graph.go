package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
)

func newGraphCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Print the pipeline's DAG (mermaid, dot or text), edges labelled with their schemas",
		Long: `Graph prints the stages and their edges. Each edge is labelled with the schema
flowing over it where it is known before the run (from the sources' headers and
every transform's declared output), as column:type pairs.

  conveyor graph examples/report.toml --format mermaid > report.mmd
  conveyor graph examples/report.toml --format dot | dot -Tsvg > report.svg`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := loadGraph(args[0])
			if err != nil {
				return err
			}
			schemas, _ := g.InferSchemas(flow.BuildEnv{BatchSize: g.File.Global.BatchSize})
			out := cmd.OutOrStdout()
			switch format {
			case "mermaid":
				writeMermaid(out, g, schemas)
			case "dot":
				writeDot(out, g, schemas)
			case "text", "":
				writeText(out, g, schemas)
			default:
				return &exitError{exitInvalid, fmt.Errorf("--format must be mermaid, dot or text, got %q", format)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "mermaid, dot or text")
	return cmd
}

// edgeSchema is the schema flowing over an input edge, when known.
func edgeSchema(ref flow.InputRef, schemas map[string]*arrow.Schema) *arrow.Schema {
	switch ref.Port {
	case "":
		return schemas[ref.Stage]
	case flow.PortErrors:
		return flow.ErrorSchema
	case "late":
		return nil
	}
	return nil
}

// schemaLabel is "name:type, ..." for an edge label.
func schemaLabel(s *arrow.Schema) string {
	if s == nil {
		return ""
	}
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = f.Name + ":" + typeName(f.Type)
	}
	return strings.Join(parts, ", ")
}

// typeName is a short type name (string rather than utf8, timestamp
// without its zone).
func typeName(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		return "string"
	case arrow.TIMESTAMP:
		return "timestamp"
	case arrow.BOOL:
		return "bool"
	}
	return t.String()
}

func mermaidID(id string) string {
	r := strings.NewReplacer("-", "_", ".", "_", " ", "_")
	return r.Replace(id)
}

func writeMermaid(w io.Writer, g *flow.Graph, schemas map[string]*arrow.Schema) {
	fmt.Fprintln(w, "flowchart LR")
	for _, n := range g.Nodes {
		fmt.Fprintf(w, "    %s[\"%s<br/><small>%s</small>\"]\n", mermaidID(n.ID), n.ID, n.Spec.Name)
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			label := schemaLabel(edgeSchema(in, schemas))
			if in.Port != "" {
				label = strings.TrimSpace(in.Port + " " + label)
			}
			if label != "" {
				fmt.Fprintf(w, "    %s -->|\"%s\"| %s\n", mermaidID(in.Stage), strings.ReplaceAll(label, `"`, "'"), mermaidID(n.ID))
			} else {
				fmt.Fprintf(w, "    %s --> %s\n", mermaidID(in.Stage), mermaidID(n.ID))
			}
		}
	}
}

func writeDot(w io.Writer, g *flow.Graph, schemas map[string]*arrow.Schema) {
	name := g.File.Pipeline.Name
	if name == "" {
		name = "pipeline"
	}
	fmt.Fprintf(w, "digraph %q {\n  rankdir=LR;\n  node [shape=box];\n", name)
	for _, n := range g.Nodes {
		fmt.Fprintf(w, "  %q [label=%q];\n", n.ID, n.ID+"\n"+n.Spec.Name)
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			label := schemaLabel(edgeSchema(in, schemas))
			if in.Port != "" {
				label = strings.TrimSpace(in.Port + " " + label)
			}
			fmt.Fprintf(w, "  %q -> %q [label=%q];\n", in.Stage, n.ID, strings.ReplaceAll(label, ", ", "\n"))
		}
	}
	fmt.Fprintln(w, "}")
}

func writeText(w io.Writer, g *flow.Graph, schemas map[string]*arrow.Schema) {
	for _, n := range g.Nodes {
		fmt.Fprintf(w, "%s (%s)\n", n.ID, n.Spec.Name)
		var outs []string
		for _, m := range g.Nodes {
			for _, in := range m.Inputs {
				if in.Stage == n.ID {
					outs = append(outs, in.String()+" -> "+m.ID)
				}
			}
		}
		sort.Strings(outs)
		for _, o := range outs {
			fmt.Fprintf(w, "  %s\n", o)
		}
		if s := schemas[n.ID]; s != nil {
			fmt.Fprintf(w, "  schema: %s\n", schemaLabel(s))
		}
	}
}

func newExplainCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "explain FILE",
		Short: "Show the schema at every edge, computed before any data moves, with the type errors",
		Long: `Explain computes, without running anything, the schema every stage receives and
emits: from the sources' declared or inferred schemas (a CSV source reads its header
and a sample of rows) through every transform's declared output. Missing columns,
incompatible comparisons or aggregations over strings are reported with the file,
line, stage and key, as ` + "`conveyor validate`" + ` does. Exit status 2 when there is a problem.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g, err := loadGraph(args[0])
			if err != nil {
				return err
			}
			schemas, ierr := g.InferSchemas(flow.BuildEnv{BatchSize: g.File.Global.BatchSize})
			w := cmd.OutOrStdout()
			for _, n := range g.Nodes {
				fmt.Fprintf(w, "%s (%s, %s)\n", n.ID, n.Spec.Name, n.Spec.Kind)
				for _, in := range n.Inputs {
					fmt.Fprintf(w, "  in  %-20s %s\n", in.String(), describeSchema(edgeSchema(in, schemas)))
				}
				if n.Spec.Kind != flow.KindSink {
					fmt.Fprintf(w, "  out %-20s %s\n", "", describeSchema(schemas[n.ID]))
				}
			}
			if ierr != nil {
				return &exitError{exitInvalid, ierr}
			}
			return nil
		},
	}
}

func describeSchema(s *arrow.Schema) string {
	if s == nil {
		return "(known when the run starts)"
	}
	return schemaLabel(s)
}
