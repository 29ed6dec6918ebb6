package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
	"github.com/conveyor-etl/conveyor/internal/pluginload"
)

// PluginPathEnv lists plugin files or directories (separated by the
// system's list separator, ':' on Unix) whose stages every command knows:
// list, info, stage describe, docs, build, and the pipelines run.
const PluginPathEnv = "CONVEYOR_PLUGIN_PATH"

var envPlugins struct {
	sync.Once
	loaded []*pluginload.Loaded
	err    error
}

// cliRegistry is the built-in stages plus those of the plugins named by
// CONVEYOR_PLUGIN_PATH.
func cliRegistry() (*flow.Registry, error) {
	reg := catalog.Registry()
	envPlugins.Do(func() {
		var entries []pluginload.Entry
		for _, p := range filepath.SplitList(os.Getenv(PluginPathEnv)) {
			if p == "" {
				continue
			}
			st, err := os.Stat(p)
			if err != nil {
				envPlugins.err = fmt.Errorf("%s: %w", PluginPathEnv, err)
				return
			}
			if st.IsDir() {
				ents, err := pluginload.Dir(p)
				if err != nil {
					envPlugins.err = fmt.Errorf("%s: %w", PluginPathEnv, err)
					return
				}
				entries = append(entries, ents...)
			} else {
				entries = append(entries, pluginload.Entry{Path: p})
			}
		}
		// Opened once; they stay loaded for the life of the process.
		for _, e := range entries {
			l, err := pluginload.Open(e)
			if err != nil {
				envPlugins.err = fmt.Errorf("%s: %w", PluginPathEnv, err)
				return
			}
			envPlugins.loaded = append(envPlugins.loaded, l)
		}
	})
	if envPlugins.err != nil {
		return reg, envPlugins.err
	}
	for _, l := range envPlugins.loaded {
		for _, s := range l.Specs() {
			if _, dup := reg.Lookup(s.Name); dup {
				return reg, fmt.Errorf("%s: %s: stage %q is already defined", PluginPathEnv, l.Entry.Path, s.Name)
			}
			reg.Register(s)
		}
	}
	return reg, nil
}

// mustRegistry is cliRegistry for commands that describe stages: a plugin
// that fails to load is reported on stderr and left out.
func mustRegistry() *flow.Registry {
	reg, err := cliRegistry()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conveyor: warning:", err)
	}
	return reg
}
