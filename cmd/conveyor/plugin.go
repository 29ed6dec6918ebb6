package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/pluginload"
	pscaffold "github.com/conveyor-etl/conveyor/plugins/scaffold"
	wscaffold "github.com/conveyor-etl/conveyor/wasm/scaffold"
)

func newPluginCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "plugin", Short: "Create, inspect and list plugins (native shared libraries and WASM modules)"}

	var lang string
	newCmd := &cobra.Command{
		Use:   "new NAME",
		Short: "Write a working plugin project NAME/ (make builds NAME/NAME.so or NAME/NAME.wasm)",
		Long: `New writes a folder NAME/ holding a plugin with one transform stage NAME.example that
passes rows through and adds a boolean column NAME_seen = true, and a Makefile:
` + "`make -C NAME`" + ` builds NAME/NAME.so (--lang c or go) or NAME/NAME.wasm (--lang wasm, a Go
guest). Load it with [global] plugins = ["NAME/NAME.so"].`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !validPluginName(name) {
				return &exitError{exitInvalid, fmt.Errorf("plugin name %q: use letters, digits and _ (it names the folder, the file and the stage prefix)", name)}
			}
			dir := name
			if _, err := os.Stat(dir); err == nil {
				return &exitError{exitInvalid, fmt.Errorf("%s already exists", dir)}
			}
			var err error
			switch lang {
			case "c", "go":
				err = pscaffold.Scaffold(dir, name, lang)
			case "wasm":
				err = wscaffold.Scaffold(dir, name)
			default:
				return &exitError{exitInvalid, fmt.Errorf("--lang must be c, go or wasm, got %q", lang)}
			}
			if err != nil {
				return &exitError{exitFailed, err}
			}
			ext := ".so"
			if lang == "wasm" {
				ext = ".wasm"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s/ — build it with `make -C %s`, then load %s in [global] plugins\n", dir, dir, filepath.Join(dir, name+ext))
			return nil
		},
	}
	newCmd.Flags().StringVar(&lang, "lang", "c", "c, go or wasm")

	var format string
	infoCmd := &cobra.Command{
		Use:   "info FILE",
		Short: "Show a plugin's name, version, API version and stages with their parameters",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := pluginload.Open(pluginload.Entry{Path: args[0]})
			if err != nil {
				return &exitError{exitInvalid, err}
			}
			defer l.Close()
			in := l.Info()
			switch format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			case "text", "":
				printPluginInfo(cmd.OutOrStdout(), in, true)
				return nil
			}
			return &exitError{exitInvalid, fmt.Errorf("--format must be text or json, got %q", format)}
		},
	}
	infoCmd.Flags().StringVar(&format, "format", "text", "text or json")

	listCmd := &cobra.Command{
		Use:   "list PIPELINE|DIR",
		Short: "List the plugins a pipeline loads ([global] plugins) or a plugin directory holds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var entries []pluginload.Entry
			st, err := os.Stat(args[0])
			if err != nil {
				return &exitError{exitInvalid, err}
			}
			if st.IsDir() {
				entries, err = pluginload.Dir(args[0])
			} else {
				var f *flow.File
				if f, err = flow.LoadFile(args[0]); err == nil {
					entries, err = pluginload.Entries(f)
					if err == nil && f.Global.PluginDir != "" {
						more, derr := pluginload.Dir(f.Global.PluginDir)
						if derr == nil {
							entries = appendMissing(entries, more)
						}
					}
				}
			}
			if err != nil {
				return &exitError{exitInvalid, err}
			}
			if len(entries) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no plugins")
				return nil
			}
			failed := false
			for _, e := range entries {
				l, err := pluginload.Open(e)
				if err != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: cannot load: %v\n", e.Path, err)
					failed = true
					continue
				}
				printPluginInfo(cmd.OutOrStdout(), l.Info(), false)
				l.Close()
			}
			if failed {
				return &exitError{exitFailed, fmt.Errorf("some plugins could not be loaded")}
			}
			return nil
		},
	}
	cmd.AddCommand(newCmd, infoCmd, listCmd)
	return cmd
}

func appendMissing(a, b []pluginload.Entry) []pluginload.Entry {
	seen := map[string]bool{}
	for _, e := range a {
		seen[filepath.Clean(e.Path)] = true
	}
	for _, e := range b {
		if !seen[filepath.Clean(e.Path)] {
			a = append(a, e)
		}
	}
	return a
}

func validPluginName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || (i > 0 && r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

func printPluginInfo(w io.Writer, in pluginload.Info, params bool) {
	fmt.Fprintf(w, "%s %s (%s plugin, API %d, isolation %s) — %s\n", in.Name, in.Version, in.Kind, in.APIVersion, in.Isolation, in.Path)
	if in.Description != "" && params {
		fmt.Fprintf(w, "  %s\n", in.Description)
	}
	for _, s := range in.Stages {
		fmt.Fprintf(w, "  %s (%s): %s\n", s.Name, s.Kind, s.Summary)
		if !params || len(s.Params) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, p := range s.Params {
			def := "-"
			if p.Default != nil {
				def = fmt.Sprint(p.Default)
			}
			req := ""
			if p.Required {
				req = "required"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", p.Name, p.Type, req, def, strings.ReplaceAll(p.Doc, "\n", " "))
		}
		tw.Flush()
	}
}
