package main

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
)

// setFlags are the --set STAGE.KEY=VALUE overrides of run, stream and
// validate.
var setFlags []string

func addSetFlag(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&setFlags, "set", nil,
		"override a stage parameter: --set STAGE.KEY=VALUE (VALUE is a TOML value or a bare string; repeatable; KEY may be a.b for a sub-table)")
}

// applyOverrides sets each --set value in the stages' configs before the
// pipeline is validated, so overrides are checked like the file.
func applyOverrides(f *flow.File, sets []string) error {
	for _, s := range sets {
		target, raw, ok := strings.Cut(s, "=")
		stage, key, ok2 := strings.Cut(target, ".")
		if !ok || !ok2 || stage == "" || key == "" {
			return fmt.Errorf("--set %q: want STAGE.KEY=VALUE", s)
		}
		var decl *flow.StageDecl
		var ids []string
		for i := range f.Stages {
			ids = append(ids, f.Stages[i].ID)
			if f.Stages[i].ID == stage {
				decl = &f.Stages[i]
			}
		}
		if decl == nil {
			msg := fmt.Sprintf("--set %q: no stage %q", s, stage)
			if near := flow.Nearest(stage, ids); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			return fmt.Errorf("%s", msg)
		}
		if decl.Config == nil {
			decl.Config = map[string]any{}
		}
		cfg := decl.Config
		parts := strings.Split(key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := cfg[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				cfg[p] = sub
			}
			cfg = sub
		}
		cfg[parts[len(parts)-1]] = parseSetValue(raw)
	}
	return nil
}

// parseSetValue reads a TOML value (number, bool, quoted string, array,
// inline table); anything else is taken as a bare string.
func parseSetValue(raw string) any {
	var doc map[string]any
	if _, err := toml.Decode("v = "+raw, &doc); err == nil {
		return doc["v"]
	}
	return raw
}
