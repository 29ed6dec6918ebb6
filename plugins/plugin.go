package plugins

import (
	"fmt"
	"os"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

// Plugin is a loaded native plugin. Its methods are safe for concurrent
// use.
type Plugin struct {
	path string
	opts Options
	info Info
	// lib is the library loaded in this process (isolation "none"); nil
	// under process isolation, where only child processes load it.
	lib *library

	mu     sync.Mutex
	closed bool
}

// Open loads the plugin at path and checks its declaration: the API
// version, the symbol, every stage's metadata. Under process isolation
// the library is loaded in a child process only (the declaration is read
// there too), so a library that crashes while loading cannot take the
// caller down.
//
// # Errors
//
// Errors name the file and wrap ErrLoad (the loader refused it: missing
// file, not a shared library, another platform), ErrMissingSymbol,
// ErrAPIVersion or ErrMetadata.
func Open(path string, opts Options) (*Plugin, error) {
	switch opts.Isolation {
	case "":
		opts.Isolation = IsolationNone
	case IsolationNone, IsolationProcess:
	default:
		return nil, fmt.Errorf("plugin %s: isolation %q is not \"none\" or \"process\"", path, opts.Isolation)
	}
	p := &Plugin{path: path, opts: opts}
	var d declaration
	if opts.Isolation == IsolationProcess {
		if p.opts.HostBinary == "" {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("plugin %s: finding the conveyor binary for process isolation: %w", path, err)
			}
			p.opts.HostBinary = exe
		}
		var err error
		if d, err = p.describe(); err != nil {
			return nil, err
		}
	} else {
		lib, err := loadLibrary(path)
		if err != nil {
			return nil, err
		}
		p.lib, d = lib, lib.d
	}
	info, err := parseDeclaration(path, d)
	if err != nil {
		return nil, err
	}
	info.Isolation = opts.Isolation
	if p.lib != nil {
		for i, s := range info.Stages {
			if err := p.lib.checkFunctions(i, s.Kind); err != nil {
				return nil, err
			}
		}
	}
	p.info = info
	return p, nil
}

// Path is the file the plugin was opened from.
func (p *Plugin) Path() string { return p.path }

// Info describes the plugin and its stages.
func (p *Plugin) Info() Info { return p.info }

// Close makes the plugin refuse to build new stage instances. Instances
// already running are unaffected; each ends with its stage. The library
// itself stays loaded until the process exits.
func (p *Plugin) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	return nil
}

func (p *Plugin) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Specs returns one flow.Spec per stage of the plugin, in declaration
// order. Their constructors build operators that call into the plugin
// (in this process, or in a child per stage instance under process
// isolation). Stateless transforms run as flow.Transformers (barriers
// pass at once); stateful ones as Transformer and Flusher; sources as
// Operators; sinks as Sinks.
func (p *Plugin) Specs() []*flow.Spec {
	out := make([]*flow.Spec, 0, len(p.info.Stages))
	for i := range p.info.Stages {
		s := &p.info.Stages[i]
		spec := baseSpec(&p.info, s)
		idx := i
		spec.New = func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return p.newOperator(idx, s, cfg, env)
		}
		out = append(out, spec)
	}
	return out
}

// Register adds the plugin's stages to r, refusing a name a stage already
// registered there uses.
func (p *Plugin) Register(r *flow.Registry) error {
	specs := p.Specs()
	for _, s := range specs {
		if _, dup := r.Lookup(s.Name); dup {
			return fmt.Errorf("plugin %s: stage %q is already registered (by a built-in stage or another plugin)", p.path, s.Name)
		}
	}
	for _, s := range specs {
		r.Register(s)
	}
	return nil
}

// newOperator builds the operator of stage i. No instance is created yet:
// that happens on first use, in the stage's goroutine.
func (p *Plugin) newOperator(i int, s *StageInfo, cfg flow.Config, env flow.BuildEnv) (any, error) {
	if p.isClosed() {
		return nil, fmt.Errorf("plugin %s: %w", p.path, ErrClosed)
	}
	config, err := configJSON(cfg)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %s: encoding the config: %w", p.path, s.Name, err)
	}
	envj := envJSON(env)
	sink := s.Kind == "sink"
	mem := env.Alloc
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	c := &core{path: p.path}
	if p.lib != nil {
		c.create = func() (instance, error) {
			return p.lib.newNative(i, s.Name, sink, config, envj)
		}
	} else {
		c.create = func() (instance, error) {
			return newRemote(p, s.Name, sink, config, envj, mem, env.Logger), nil
		}
	}
	return newOp(c, s), nil
}
