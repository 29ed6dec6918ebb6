package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// instance is one instantiated guest module. It serves one caller at a
// time. Once broken (trapped, exited, timed out) it must not be called
// again: it is closed, never returned to a pool.
type instance struct {
	plugin *Plugin
	mod    api.Module
	mem    api.Memory

	fABI, fBuffer, fDescribe, fValidate, fCreate api.Function
	fProcess, fFlush, fDestroy, fLastError       api.Function

	stderr *tailWriter
	// handles maps a stage's create request (stage name and config) to
	// the guest handle built from it, for stateless stages that take any
	// instance of their pool.
	handles map[string]int32
	broken  bool
	// scratch holds a batch's IPC encoding on its way into the guest.
	scratch bytes.Buffer
}

// Packed results with a zero offset carry a status in their low word.
const (
	statusNone  = 0
	statusError = 1
	statusEnd   = 2
)

func (p *Plugin) instantiate(ctx context.Context) (*instance, error) {
	inst := &instance{plugin: p, handles: map[string]int32{}}
	inst.stderr = &tailWriter{max: 2048, log: p.opts.Logger, stream: "stderr", plugin: p.path}
	stdout := &tailWriter{max: 0, log: p.opts.Logger, stream: "stdout", plugin: p.path}
	cfg := p.modCfg.WithStderr(inst.stderr).WithStdout(stdout)
	if p.caps.Timeout > 0 {
		// _initialize runs the guest's init functions: bound them too.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.caps.Timeout)
		defer cancel()
	}
	p.instantiated.Add(1)
	mod, err := p.rt.InstantiateModule(ctx, p.code, cfg)
	if err != nil {
		return nil, inst.classify("instantiating the module", err)
	}
	inst.mod = mod
	inst.mem = mod.Memory()
	fns := []struct {
		f    *api.Function
		name string
	}{
		{&inst.fABI, "conveyor_abi_version"}, {&inst.fBuffer, "conveyor_buffer"},
		{&inst.fDescribe, "conveyor_describe"}, {&inst.fValidate, "conveyor_validate"},
		{&inst.fCreate, "conveyor_create"}, {&inst.fProcess, "conveyor_process"},
		{&inst.fFlush, "conveyor_flush"}, {&inst.fDestroy, "conveyor_destroy"},
		{&inst.fLastError, "conveyor_last_error"},
	}
	for _, f := range fns {
		if *f.f = mod.ExportedFunction(f.name); *f.f == nil {
			mod.Close(ctx)
			return nil, fmt.Errorf("%w: missing export %s", ErrNotPlugin, f.name)
		}
	}
	return inst, nil
}

func (p *Plugin) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// call invokes fn under the plugin's timeout. On failure the instance is
// marked broken and the error says why (timeout, memory, crash).
func (inst *instance) call(ctx context.Context, what string, fn api.Function, args ...uint64) (uint64, error) {
	if inst.broken {
		return 0, fmt.Errorf("%w: instance already discarded", ErrCrashed)
	}
	if t := inst.plugin.caps.Timeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	inst.stderr.reset()
	res, err := fn.Call(ctx, args...)
	if err != nil {
		inst.broken = true
		return 0, inst.classify(what, err)
	}
	if len(res) == 0 {
		return 0, nil
	}
	return res[0], nil
}

// classify turns a failed call into an error naming its cause.
func (inst *instance) classify(what string, err error) error {
	p := inst.plugin
	if p.isClosed() {
		return fmt.Errorf("%s: %w", what, ErrClosed)
	}
	tail := strings.TrimSpace(inst.stderr.String())
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return fmt.Errorf("%w: %s did not return within the plugin's timeout of %s", ErrTimeout, what, p.caps.Timeout)
		case sys.ExitCodeContextCanceled:
			return fmt.Errorf("%s: %w", what, context.Canceled)
		}
	}
	if strings.Contains(tail, "out of memory") {
		limit := "the WebAssembly maximum of 4096"
		if p.caps.MemoryLimitMB > 0 {
			limit = fmt.Sprint(p.caps.MemoryLimitMB)
		}
		return fmt.Errorf("%w (memory_limit_mb = %s) during %s", ErrMemoryLimit, limit, what)
	}
	// wazero's message is followed by a wasm stack trace: keep its first
	// line, and the guest's first words on stderr (a Go guest's fatal
	// error or panic).
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if exit != nil {
		msg = fmt.Sprintf("the guest exited with code %d", exit.ExitCode())
	}
	if tail != "" {
		return fmt.Errorf("%w during %s: %s: %s", ErrCrashed, what, msg, firstLines(tail, 4))
	}
	return fmt.Errorf("%w during %s: %s", ErrCrashed, what, msg)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

// view returns the bytes a packed result points to: a view of guest
// memory, valid until the next call into the instance.
func (inst *instance) view(what string, packed uint64) ([]byte, error) {
	off, n := uint32(packed>>32), uint32(packed)
	b, ok := inst.mem.Read(off, n)
	if !ok {
		inst.broken = true
		return nil, fmt.Errorf("%w: %s returned %d bytes at %d, outside its memory", ErrCrashed, what, n, off)
	}
	return b, nil
}

// result returns the bytes of a packed result, or the guest's error.
func (inst *instance) result(ctx context.Context, what string, packed uint64) ([]byte, error) {
	if packed>>32 == 0 {
		switch uint32(packed) {
		case statusNone:
			return nil, nil
		case statusError:
			return nil, inst.lastError(ctx, what)
		}
		return nil, fmt.Errorf("%w: %s returned the unknown status %d", ErrCrashed, what, uint32(packed))
	}
	return inst.view(what, packed)
}

// lastError fetches the guest's message for a failed call.
func (inst *instance) lastError(ctx context.Context, what string) error {
	packed, err := inst.call(ctx, "conveyor_last_error", inst.fLastError)
	if err != nil {
		return err
	}
	if packed>>32 == 0 {
		return &GuestError{Msg: what + " failed without a message"}
	}
	b, err := inst.view("conveyor_last_error", packed)
	if err != nil {
		return err
	}
	return &GuestError{Msg: string(b)}
}

// put copies b into the guest's argument buffer and returns its length.
func (inst *instance) put(ctx context.Context, b []byte) (uint64, error) {
	off, err := inst.call(ctx, "conveyor_buffer", inst.fBuffer, uint64(len(b)))
	if err != nil {
		return 0, err
	}
	if len(b) > 0 && !inst.mem.Write(uint32(off), b) {
		inst.broken = true
		return 0, fmt.Errorf("%w: conveyor_buffer returned %d, outside its memory", ErrCrashed, off)
	}
	return uint64(len(b)), nil
}

// create builds a guest processor from a request and returns its handle.
func (inst *instance) create(ctx context.Context, req []byte) (int32, error) {
	n, err := inst.put(ctx, req)
	if err != nil {
		return 0, err
	}
	h, err := inst.call(ctx, "conveyor_create", inst.fCreate, n)
	if err != nil {
		return 0, err
	}
	if int32(h) <= 0 {
		return 0, inst.lastError(ctx, "create")
	}
	return int32(h), nil
}

// validate checks a config in the guest.
func (inst *instance) validate(ctx context.Context, req []byte) error {
	n, err := inst.put(ctx, req)
	if err != nil {
		return err
	}
	r, err := inst.call(ctx, "conveyor_validate", inst.fValidate, n)
	if err != nil {
		return err
	}
	if r != 0 {
		return inst.lastError(ctx, "validate")
	}
	return nil
}

// destroy frees a guest processor (its Close runs).
func (inst *instance) destroy(ctx context.Context, h int32) error {
	r, err := inst.call(ctx, "conveyor_destroy", inst.fDestroy, uint64(uint32(h)))
	if err != nil {
		return err
	}
	if r != 0 {
		return inst.lastError(ctx, "close")
	}
	return nil
}

func (inst *instance) close(ctx context.Context) {
	if inst.mod != nil {
		inst.mod.Close(ctx)
	}
	inst.broken = true
}

// GuestError is an error the plugin's own code returned (a bad config, a
// column it cannot handle). The instance stays usable.
type GuestError struct {
	Msg string
}

func (e *GuestError) Error() string { return e.Msg }

// pool keeps the idle instances of one stage. Instances in use belong to
// the running stage that took them; there is no bound on those (one per
// running stage), only on the idle ones kept.
type pool struct {
	plugin *Plugin
	stage  string
	idle   []*instance
}

// get returns an idle instance or a new one.
func (pl *pool) get(ctx context.Context) (*instance, error) {
	p := pl.plugin
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	var inst *instance
	switch {
	case len(pl.idle) > 0:
		inst = pl.idle[len(pl.idle)-1]
		pl.idle = pl.idle[:len(pl.idle)-1]
	case p.spare != nil:
		inst, p.spare = p.spare, nil
	}
	p.mu.Unlock()
	if inst != nil {
		return inst, nil
	}
	return p.instantiate(ctx)
}

// put returns an instance: a broken one is closed, a healthy one kept
// idle (up to the pool's bound).
func (pl *pool) put(inst *instance) {
	p := pl.plugin
	if !inst.broken {
		p.mu.Lock()
		if !p.closed && len(pl.idle) < p.maxIdle {
			pl.idle = append(pl.idle, inst)
			inst = nil
		}
		p.mu.Unlock()
	}
	if inst != nil {
		inst.close(context.Background())
	}
}

// tailWriter keeps the first and last bytes written since the last reset
// (for error messages: a Go guest's fatal error comes first, then a long
// goroutine dump) and logs each complete line.
type tailWriter struct {
	mu         sync.Mutex
	max        int // bytes kept at each end (0: none)
	head, tail []byte
	cut        bool // bytes were dropped between head and tail
	line       []byte
	log        *slog.Logger
	stream     string
	plugin     string
}

func (w *tailWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.max > 0 {
		rest := b
		if n := min(w.max-len(w.head), len(rest)); n > 0 {
			w.head = append(w.head, rest[:n]...)
			rest = rest[n:]
		}
		w.tail = append(w.tail, rest...)
		if len(w.tail) > w.max {
			w.tail = append(w.tail[:0], w.tail[len(w.tail)-w.max:]...)
			w.cut = true
		}
	}
	if w.log != nil {
		w.line = append(w.line, b...)
		for {
			i := bytes.IndexByte(w.line, '\n')
			if i < 0 {
				break
			}
			w.log.Info("plugin output", "plugin", w.plugin, "stream", w.stream, "line", string(w.line[:i]))
			w.line = w.line[i+1:]
		}
		if len(w.line) > 64<<10 {
			w.line = w.line[:0]
		}
	}
	return len(b), nil
}

// reset forgets the kept bytes (before each call, so that an error
// quotes only what the failing call printed).
func (w *tailWriter) reset() {
	w.mu.Lock()
	w.head, w.tail, w.cut = w.head[:0], w.tail[:0], false
	w.mu.Unlock()
}

// String returns the kept bytes, "…" marking a cut.
func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut {
		return string(w.head) + "\n…\n" + string(w.tail)
	}
	return string(w.head) + string(w.tail)
}
