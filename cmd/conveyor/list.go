package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
)

func newListCmd() *cobra.Command {
	var kind, format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the available stages",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var want flow.Kind
			switch kind {
			case "":
			case "sources", "source":
				want = flow.KindSource
			case "transforms", "transform":
				want = flow.KindTransform
			case "sinks", "sink":
				want = flow.KindSink
			default:
				return &exitError{exitInvalid, fmt.Errorf("-t must be sources, transforms or sinks, got %q", kind)}
			}
			var specs []*flow.Spec
			for _, s := range mustRegistry().Specs() {
				if want == 0 || s.Kind == want {
					specs = append(specs, s)
				}
			}
			w := cmd.OutOrStdout()
			switch format {
			case "json":
				type item struct {
					Name    string   `json:"name"`
					Kind    string   `json:"kind"`
					Summary string   `json:"summary"`
					Aliases []string `json:"aliases,omitempty"`
				}
				items := make([]item, 0, len(specs))
				for _, s := range specs {
					items = append(items, item{s.Name, s.Kind.String(), s.Summary, s.Aliases})
				}
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(items)
			case "text", "":
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				var last flow.Kind
				for _, s := range specs {
					if s.Kind != last {
						if last != 0 {
							fmt.Fprintln(tw)
						}
						fmt.Fprintf(tw, "%s:\n", titleCase(s.Kind.Plural()))
						last = s.Kind
					}
					fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.Summary)
				}
				return tw.Flush()
			}
			return &exitError{exitInvalid, fmt.Errorf("--format must be text or json, got %q", format)}
		},
	}
	cmd.Flags().StringVarP(&kind, "type", "t", "", "only sources, transforms or sinks")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
