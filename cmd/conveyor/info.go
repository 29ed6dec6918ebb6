package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
)

func newInfoCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info NAME",
		Short: "Describe one stage: parameters, types, defaults, allowed values, examples",
		Args:  cobra.ExactArgs(1),
		// Shell completion offers every stage name.
		ValidArgsFunction: completeStageNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := mustRegistry()
			spec, ok := reg.Lookup(args[0])
			if !ok {
				msg := fmt.Sprintf("unknown stage %q", args[0])
				if s := reg.Suggest(args[0]); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				return &exitError{exitInvalid, fmt.Errorf("%s; `conveyor list` shows every stage", msg)}
			}
			w := cmd.OutOrStdout()
			switch format {
			case "json":
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(spec.Describe())
			case "text", "":
				writeInfo(w, spec)
				return nil
			}
			return &exitError{exitInvalid, fmt.Errorf("--format must be text or json, got %q", format)}
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func writeInfo(w io.Writer, s *flow.Spec) {
	fmt.Fprintf(w, "%s (%s)\n  %s\n", s.Name, s.Kind, s.Summary)
	if s.Description != "" {
		fmt.Fprintf(w, "\n%s\n", indent(strings.TrimSpace(s.Description), "  "))
	}
	if len(s.Aliases) > 0 {
		fmt.Fprintf(w, "\nAlso accepted as: %s\n", strings.Join(s.Aliases, ", "))
	}
	ports := append([]string{flow.PortErrors}, s.Ports...)
	fmt.Fprintf(w, "\nSide outputs: %s (take them with inputs = [\"<id>.<port>\"])\n", strings.Join(ports, ", "))
	fmt.Fprintln(w, "\nParameters:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tTYPE\tREQUIRED\tDEFAULT\tDESCRIPTION")
	for _, p := range s.Params {
		req := "no"
		if p.Required {
			req = "yes"
		}
		def := "-"
		if d := flow.DefaultText(p.Default); d != nil {
			def = fmt.Sprintf("%v", d)
			if _, isStr := d.(string); isStr {
				def = fmt.Sprintf("%q", d)
			}
		}
		doc := p.Doc
		if len(p.Allowed) > 0 {
			doc += " One of: " + strings.Join(p.Allowed, ", ") + "."
		}
		if p.Min != nil || p.Max != nil {
			doc += " Range:" + rangeText(p.Min, p.Max) + "."
		}
		if len(p.Aliases) > 0 {
			doc += " Alias: " + strings.Join(p.Aliases, ", ") + "."
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Name, p.Type, req, def, strings.TrimSpace(doc))
	}
	tw.Flush()
	for i, e := range s.Examples {
		title := e.Title
		if title == "" {
			title = fmt.Sprintf("Example %d", i+1)
		}
		fmt.Fprintf(w, "\n%s:\n  [stages.config]\n%s\n", title, indent(strings.TrimSpace(e.Config), "  "))
		if e.Input != "" {
			fmt.Fprintf(w, "  input:\n%s\n", indent(strings.TrimSpace(e.Input), "    "))
		}
		if e.Output != "" {
			fmt.Fprintf(w, "  output:\n%s\n", indent(strings.TrimSpace(e.Output), "    "))
		}
	}
}

func rangeText(lo, hi *float64) string {
	s := ""
	if lo != nil {
		s += fmt.Sprintf(" >= %v", *lo)
	}
	if hi != nil {
		s += fmt.Sprintf(" <= %v", *hi)
	}
	return s
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(s, "\n", "\n"+pre)
}
