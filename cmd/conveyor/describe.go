package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// completeStageNames completes stage function names (for info, stage
// describe and completion scripts).
func completeStageNames(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, s := range mustRegistry().Specs() {
		if strings.HasPrefix(s.Name, toComplete) {
			out = append(out, s.Name+"\t"+s.Summary)
		}
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}

func newStageCmd() *cobra.Command {
	stage := &cobra.Command{Use: "stage", Short: "Stage specs for tools and scaffolding"}
	stage.AddCommand(&cobra.Command{
		Use:               "describe NAME",
		Short:             "Print a stage's spec (parameters, types, defaults, examples) as JSON",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeStageNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, ok := mustRegistry().Lookup(args[0])
			if !ok {
				msg := fmt.Sprintf("unknown stage %q", args[0])
				if s := mustRegistry().Suggest(args[0]); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				return &exitError{exitInvalid, fmt.Errorf("%s", msg)}
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(spec.Describe())
		},
	})
	stage.AddCommand(newStageNewCmd(), newStageAddCmd())
	return stage
}
