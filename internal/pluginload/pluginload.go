// Package pluginload turns the plugin entries of a pipeline file
// ([global] plugins, plugin_dir) into loaded plugins whose stages are
// registered beside the built-in ones: shared libraries through package
// plugins (in process or in a child process), .wasm modules through
// package wasm (sandboxed, with the capabilities the entry grants).
package pluginload

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/plugins"
	"github.com/conveyor-etl/conveyor/wasm"
)

// Entry is one plugin to load.
type Entry struct {
	Path string
	// Isolation is "none" or "process" (native plugins).
	Isolation string
	// Caps are a WASM plugin's capabilities.
	Caps wasm.Capabilities
}

// IsWASM reports whether the entry is a WebAssembly module.
func (e Entry) IsWASM() bool { return strings.EqualFold(filepath.Ext(e.Path), ".wasm") }

// entryKeys are the keys of a plugin table.
var entryKeys = []string{"path", "isolation", "allow_read", "allow_write", "memory_limit_mb", "timeout", "env"}

// Entries reads [global] plugins. A relative path is looked up in
// plugin_dir when it is set, else taken from the working directory.
func Entries(f *flow.File) ([]Entry, error) {
	var out []Entry
	var errs []string
	for i, raw := range f.Global.Plugins {
		where := fmt.Sprintf("%s: [global] plugins[%d]", f.Path, i)
		var e Entry
		switch v := raw.(type) {
		case string:
			e.Path = v
		case map[string]any:
			for k := range v {
				if !contains(entryKeys, k) {
					msg := fmt.Sprintf("%s: unknown key %q", where, k)
					if near := flow.Nearest(k, entryKeys); near != "" {
						msg += fmt.Sprintf(" (did you mean %q?)", near)
					}
					errs = append(errs, msg)
				}
			}
			e.Path, _ = v["path"].(string)
			e.Isolation, _ = v["isolation"].(string)
			e.Caps.AllowRead = strs(v["allow_read"])
			e.Caps.AllowWrite = strs(v["allow_write"])
			e.Caps.Env = strs(v["env"])
			switch m := v["memory_limit_mb"].(type) {
			case int64:
				e.Caps.MemoryLimitMB = int(m)
			case nil:
			default:
				errs = append(errs, fmt.Sprintf("%s: memory_limit_mb must be an integer", where))
			}
			if t, ok := v["timeout"].(string); ok {
				d, err := flow.ParseDuration(t)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s: timeout: %v", where, err))
				}
				e.Caps.Timeout = d
			} else if n, ok := v["timeout"].(int64); ok {
				e.Caps.Timeout = time.Duration(n) * time.Second
			}
		default:
			errs = append(errs, fmt.Sprintf("%s: must be a path or a table with path", where))
			continue
		}
		if e.Path == "" {
			errs = append(errs, fmt.Sprintf("%s: path is missing", where))
			continue
		}
		if e.Isolation != "" && e.Isolation != "none" && e.Isolation != "process" {
			errs = append(errs, fmt.Sprintf("%s: isolation %q is not \"none\" or \"process\"", where, e.Isolation))
		}
		if e.IsWASM() && e.Isolation == "process" {
			errs = append(errs, fmt.Sprintf("%s: a WASM plugin is always sandboxed; isolation applies to native plugins", where))
		}
		if !filepath.IsAbs(e.Path) && f.Global.PluginDir != "" {
			e.Path = filepath.Join(f.Global.PluginDir, e.Path)
		}
		out = append(out, e)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return out, nil
}

// Dir lists the plugin files of a directory (.so, .dylib, .wasm).
func Dir(dir string) ([]Entry, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, de := range ents {
		switch strings.ToLower(filepath.Ext(de.Name())) {
		case ".so", ".dylib", ".wasm":
			out = append(out, Entry{Path: filepath.Join(dir, de.Name())})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Loaded is an opened plugin of either kind.
type Loaded struct {
	Entry  Entry
	native *plugins.Plugin
	module *wasm.Plugin
}

// Open loads one entry.
func Open(e Entry) (*Loaded, error) {
	if e.IsWASM() {
		p, err := wasm.Open(e.Path, e.Caps, wasm.Options{Logger: slog.Default()}) // guest output to the log
		if err != nil {
			return nil, err
		}
		return &Loaded{Entry: e, module: p}, nil
	}
	p, err := plugins.Open(e.Path, plugins.Options{Isolation: e.Isolation})
	if err != nil {
		return nil, err
	}
	return &Loaded{Entry: e, native: p}, nil
}

// Specs are the plugin's stages.
func (l *Loaded) Specs() []*flow.Spec {
	if l.module != nil {
		return l.module.Specs()
	}
	return l.native.Specs()
}

// Close releases the plugin.
func (l *Loaded) Close() error {
	if l.module != nil {
		return l.module.Close()
	}
	return l.native.Close()
}

// Info is what `conveyor plugin info` shows, for both kinds.
type Info struct {
	Path        string      `json:"path"`
	Kind        string      `json:"kind"`
	Name        string      `json:"name"`
	Version     string      `json:"version"`
	Description string      `json:"description,omitempty"`
	APIVersion  int         `json:"api_version"`
	Isolation   string      `json:"isolation"`
	Stages      []StageInfo `json:"stages"`
}

// StageInfo is one stage of a plugin.
type StageInfo struct {
	Name    string          `json:"name"`
	Kind    string          `json:"kind"`
	Summary string          `json:"summary"`
	Params  []flow.ParamDoc `json:"params"`
}

// Info describes the plugin.
func (l *Loaded) Info() Info {
	in := Info{Path: l.Entry.Path}
	if l.module != nil {
		mi := l.module.Info()
		in.Kind, in.Name, in.Version, in.Description, in.APIVersion, in.Isolation = "wasm", mi.Name, mi.Version, mi.Description, mi.APIVersion, "sandbox"
	} else {
		ni := l.native.Info()
		in.Kind, in.Name, in.Version, in.Description, in.APIVersion, in.Isolation = "native", ni.Name, ni.Version, ni.Description, ni.APIVersion, ni.Isolation
	}
	for _, s := range l.Specs() {
		d := s.Describe()
		in.Stages = append(in.Stages, StageInfo{Name: d.Name, Kind: d.Kind, Summary: d.Summary, Params: d.Params})
	}
	return in
}

// LoadAll opens every plugin of f and registers its stages in reg. The
// plugins stay open for the life of the process (their stages run from
// them); errors name the file.
func LoadAll(f *flow.File, reg *flow.Registry) ([]*Loaded, error) {
	entries, err := Entries(f)
	if err != nil {
		return nil, err
	}
	var out []*Loaded
	for _, e := range entries {
		l, err := Open(e)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, fmt.Errorf("%s: [global] plugins: %w", f.Path, err)
		}
		for _, s := range l.Specs() {
			if _, dup := reg.Lookup(s.Name); dup {
				l.Close()
				for _, o := range out {
					o.Close()
				}
				return nil, fmt.Errorf("%s: [global] plugins: %s: stage %q is already defined (built in or by another plugin)", f.Path, e.Path, s.Name)
			}
			reg.Register(s)
		}
		out = append(out, l)
	}
	return out, nil
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
