package wasm

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/conveyor-etl/conveyor/flow"
)

// Plugin is a loaded WASM plugin: a compiled module and the pools of
// instances its stages run on. It is safe for concurrent use.
type Plugin struct {
	path    string
	caps    Capabilities
	opts    Options
	info    Info
	rt      wazero.Runtime
	code    wazero.CompiledModule
	modCfg  wazero.ModuleConfig
	maxIdle int

	instantiated atomic.Int64

	mu     sync.Mutex
	closed bool
	pools  map[string]*pool
	spare  *instance // the instance Open read the metadata with
	specs  []*flow.Spec
}

// guest exports every plugin module must have.
var requiredExports = []string{
	"conveyor_abi_version", "conveyor_buffer", "conveyor_describe", "conveyor_validate",
	"conveyor_create", "conveyor_process", "conveyor_flush", "conveyor_destroy",
	"conveyor_last_error", "_initialize", "memory",
}

// caches are shared by every plugin opened with the same cache directory,
// so a module compiled once in a process is not compiled again.
var (
	cachesMu sync.Mutex
	caches   = map[string]wazero.CompilationCache{}
)

func compilationCache(dir string) (wazero.CompilationCache, error) {
	cachesMu.Lock()
	defer cachesMu.Unlock()
	if c, ok := caches[dir]; ok {
		return c, nil
	}
	var c wazero.CompilationCache
	if dir == "-" {
		c = wazero.NewCompilationCache()
	} else {
		var err error
		if c, err = wazero.NewCompilationCacheWithDir(dir); err != nil {
			return nil, fmt.Errorf("wasm compilation cache %s: %w", dir, err)
		}
	}
	caches[dir] = c
	return c, nil
}

// DefaultCacheDir is where compiled modules are kept when Options.CacheDir
// is empty: conveyor/wasm under the user cache directory (or the system
// temporary directory when there is none).
func DefaultCacheDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "conveyor", "wasm")
}

// Open loads the plugin module at path with the given capabilities. It
// compiles the module (or takes it from the cache), checks its imports,
// exports and ABI version, and reads its metadata. Errors name the file.
func Open(path string, caps Capabilities, opts Options) (*Plugin, error) {
	p, err := open(path, caps, opts)
	if err != nil {
		return nil, fmt.Errorf("wasm plugin %s: %w", path, err)
	}
	return p, nil
}

func open(path string, caps Capabilities, opts Options) (*Plugin, error) {
	ctx := context.Background()
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return nil, fmt.Errorf("%w: not a WebAssembly module", ErrNotPlugin)
	}
	fsCfg, err := mounts(&caps)
	if err != nil {
		return nil, err
	}
	if caps.MemoryLimitMB < 0 || caps.MemoryLimitMB > 4096 {
		return nil, fmt.Errorf("memory_limit_mb = %d: must be between 1 and 4096", caps.MemoryLimitMB)
	}
	if caps.Timeout < 0 {
		return nil, fmt.Errorf("timeout = %s: must be positive", caps.Timeout)
	}
	dir := opts.CacheDir
	if dir == "" {
		dir = DefaultCacheDir()
	}
	cache, err := compilationCache(dir)
	if err != nil {
		return nil, err
	}
	rc := wazero.NewRuntimeConfig().WithCompilationCache(cache).
		// Cancellation checks in compiled code cost time on every call: only
		// when a timeout asks for them.
		WithCloseOnContextDone(caps.Timeout > 0)
	if caps.MemoryLimitMB > 0 {
		rc = rc.WithMemoryLimitPages(uint32(caps.MemoryLimitMB) * 16) // 64 KiB pages
	}
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	ok := false
	defer func() {
		if !ok {
			rt.Close(ctx)
		}
	}()
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return nil, err
	}
	code, err := rt.CompileModule(ctx, bin)
	if err != nil {
		if strings.Contains(err.Error(), "over limit") {
			return nil, fmt.Errorf("%w: memory_limit_mb = %d is below what the module needs to start (%v)", ErrMemoryLimit, caps.MemoryLimitMB, err)
		}
		return nil, fmt.Errorf("compiling: %w", err)
	}
	if err := checkModule(code); err != nil {
		return nil, err
	}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithFSConfig(fsCfg).
		WithSysWalltime().WithSysNanotime().WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, name := range caps.Env {
		if v, set := os.LookupEnv(name); set {
			mc = mc.WithEnv(name, v)
		}
	}
	p := &Plugin{path: path, caps: caps, opts: opts, rt: rt, code: code, modCfg: mc,
		maxIdle: runtime.GOMAXPROCS(0), pools: map[string]*pool{}}
	inst, err := p.instantiate(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.describe(ctx, inst); err != nil {
		inst.close(ctx)
		return nil, err
	}
	p.spare = inst
	for _, s := range p.info.Stages {
		p.pools[s.Name] = &pool{plugin: p, stage: s.Name}
	}
	p.specs = make([]*flow.Spec, 0, len(p.info.Stages))
	for i := range p.info.Stages {
		p.specs = append(p.specs, p.spec(&p.info.Stages[i]))
	}
	ok = true
	return p, nil
}

// mounts resolves the directory capabilities into a wazero FS config.
func mounts(caps *Capabilities) (wazero.FSConfig, error) {
	cfg := wazero.NewFSConfig()
	rw := map[string]bool{}
	var order []string
	add := func(dirs []string, write bool, key string) error {
		for _, d := range dirs {
			abs, err := filepath.Abs(d)
			if err != nil {
				return fmt.Errorf("%s %q: %w", key, d, err)
			}
			fi, err := os.Stat(abs)
			if err != nil {
				return fmt.Errorf("%s %q: %w", key, d, err)
			}
			if !fi.IsDir() {
				return fmt.Errorf("%s %q: not a directory", key, d)
			}
			if _, seen := rw[abs]; !seen {
				order = append(order, abs)
			}
			rw[abs] = rw[abs] || write
		}
		return nil
	}
	if err := add(caps.AllowRead, false, "allow_read"); err != nil {
		return nil, err
	}
	if err := add(caps.AllowWrite, true, "allow_write"); err != nil {
		return nil, err
	}
	for _, d := range order {
		guestPath := filepath.ToSlash(d)
		if rw[d] {
			cfg = cfg.WithDirMount(d, guestPath)
		} else {
			cfg = cfg.WithReadOnlyDirMount(d, guestPath)
		}
	}
	return cfg, nil
}

// checkModule refuses modules that could not run as a plugin, with an
// error saying how to build one that can.
func checkModule(code wazero.CompiledModule) error {
	for _, f := range code.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != wasi_snapshot_preview1.ModuleName {
			return fmt.Errorf("%w: it imports %s.%s, which Conveyor does not provide (build with GOOS=wasip1 GOARCH=wasm)", ErrNotPlugin, mod, name)
		}
	}
	exports := code.ExportedFunctions()
	mems := code.ExportedMemories()
	var missing []string
	for _, name := range requiredExports {
		_, fn := exports[name]
		_, mem := mems[name]
		if !fn && !mem {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		hint := "build it with the guest SDK (package wasm/guest) and -buildmode=c-shared"
		if _, cmd := exports["_start"]; cmd {
			hint = "it is a command module: build it with -buildmode=c-shared"
		}
		return fmt.Errorf("%w: missing export %s (%s)", ErrNotPlugin, strings.Join(missing, ", "), hint)
	}
	return nil
}

// describe reads and checks the plugin's metadata.
func (p *Plugin) describe(ctx context.Context, inst *instance) error {
	v, err := inst.call(ctx, "conveyor_abi_version", inst.fABI)
	if err != nil {
		return err
	}
	if v != ABIVersion {
		return fmt.Errorf("%w: the module was built for plugin ABI %d, this Conveyor speaks %d (rebuild it with a matching guest SDK)", ErrABIVersion, v, ABIVersion)
	}
	raw, err := inst.call(ctx, "conveyor_describe", inst.fDescribe)
	if err != nil {
		return err
	}
	doc, err := inst.result(ctx, "conveyor_describe", raw)
	if err != nil {
		return err
	}
	var meta struct {
		ABI         int         `json:"abi"`
		Name        string      `json:"name"`
		Version     string      `json:"version"`
		Description string      `json:"description"`
		Stages      []StageInfo `json:"stages"`
	}
	if err := json.Unmarshal(doc, &meta); err != nil {
		return fmt.Errorf("%w: reading its metadata: %v", ErrNotPlugin, err)
	}
	p.info = Info{Path: p.path, Name: meta.Name, Version: meta.Version, Description: meta.Description,
		APIVersion: meta.ABI, Stages: meta.Stages}
	if meta.ABI != ABIVersion {
		return fmt.Errorf("%w: the metadata says plugin ABI %d, this Conveyor speaks %d", ErrABIVersion, meta.ABI, ABIVersion)
	}
	if meta.Name == "" {
		return fmt.Errorf("%w: the plugin has no name", ErrNotPlugin)
	}
	if len(meta.Stages) == 0 {
		return fmt.Errorf("plugin %s declares no stage", meta.Name)
	}
	seen := map[string]bool{}
	for _, s := range meta.Stages {
		if err := checkStage(s); err != nil {
			return fmt.Errorf("plugin %s: stage %q: %w", meta.Name, s.Name, err)
		}
		if seen[s.Name] {
			return fmt.Errorf("plugin %s: stage %q declared twice", meta.Name, s.Name)
		}
		seen[s.Name] = true
	}
	sort.Slice(p.info.Stages, func(i, j int) bool { return p.info.Stages[i].Name < p.info.Stages[j].Name })
	return nil
}

var paramTypes = map[string]bool{
	string(flow.TypeString): true, string(flow.TypeInt): true, string(flow.TypeFloat): true,
	string(flow.TypeBool): true, string(flow.TypeList): true, string(flow.TypeTable): true,
	string(flow.TypeDuration): true, string(flow.TypeAny): true,
	string(flow.TypeBoolOrList): true, string(flow.TypeStringOrList): true,
}

func checkStage(s StageInfo) error {
	if s.Name == "" {
		return fmt.Errorf("no name")
	}
	switch s.Kind {
	case "source", "transform", "sink":
	default:
		return fmt.Errorf("kind %q is not source, transform or sink", s.Kind)
	}
	names := map[string]bool{}
	for _, prm := range s.Params {
		if prm.Name == "" || names[prm.Name] {
			return fmt.Errorf("parameter %q: empty or declared twice", prm.Name)
		}
		names[prm.Name] = true
		if prm.Name == "on_error" {
			return fmt.Errorf("parameter on_error is reserved (every stage has it)")
		}
		if !paramTypes[prm.Type] {
			return fmt.Errorf("parameter %q: unknown type %q", prm.Name, prm.Type)
		}
	}
	return nil
}

// Info returns what the plugin says about itself; its stages are sorted by
// name.
func (p *Plugin) Info() Info { return p.info }

// Path is the module file the plugin was opened from.
func (p *Plugin) Path() string { return p.path }

// Specs returns one stage spec per plugin stage, to register in a
// flow.Registry. The same values are returned on every call.
func (p *Plugin) Specs() []*flow.Spec { return p.specs }

// Instantiated is how many instances of the module were created so far
// (one per concurrently running stage, plus replacements of discarded
// ones).
func (p *Plugin) Instantiated() int64 { return p.instantiated.Load() }

// Close discards every instance and the compiled module. Stages still
// running fail with ErrClosed at their next call.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.spare = nil
	for _, pl := range p.pools {
		pl.idle = nil
	}
	p.mu.Unlock()
	return p.rt.Close(context.Background())
}
