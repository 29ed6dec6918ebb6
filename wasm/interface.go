package wasm

import (
	"errors"
	"log/slog"
	"time"
)

// Sentinel errors. Errors returned by this package wrap them; test with
// errors.Is.
var (
	// ErrNotPlugin: the file is not a WebAssembly module built with the
	// guest SDK (missing exports, wrong imports, a command module).
	ErrNotPlugin = errors.New("not a Conveyor WASM plugin")
	// ErrABIVersion: the module speaks another version of the plugin ABI.
	ErrABIVersion = errors.New("plugin ABI version mismatch")
	// ErrTimeout: a call into the guest overran Capabilities.Timeout. The
	// instance was discarded.
	ErrTimeout = errors.New("plugin call timed out")
	// ErrMemoryLimit: the guest needed more memory than
	// Capabilities.MemoryLimitMB allows. The instance was discarded.
	ErrMemoryLimit = errors.New("plugin exceeded its memory limit")
	// ErrCrashed: the guest trapped or exited. The instance was discarded.
	ErrCrashed = errors.New("plugin instance crashed")
	// ErrClosed: the plugin was closed.
	ErrClosed = errors.New("plugin closed")
)

// Capabilities is everything a plugin may use; it gets nothing else. The
// zero value grants no files, no environment, no timeout and the
// WebAssembly maximum of 4 GiB of memory per instance. A guest never has
// network access.
type Capabilities struct {
	// AllowRead lists host directories the guest may read. Each is
	// mounted read-only at its own absolute path, so the paths a
	// pipeline names mean the same inside the guest. Relative paths are
	// resolved against the working directory by Open.
	AllowRead []string
	// AllowWrite lists host directories the guest may read and write.
	AllowWrite []string
	// MemoryLimitMB caps each instance's linear memory (0: 4096).
	MemoryLimitMB int
	// Timeout bounds every call into the guest (0: none). A call that
	// overruns it is stopped and fails with ErrTimeout. Setting it makes
	// the guest's compiled code check for cancellation on every loop and
	// call, which costs time: leave it unset for trusted plugins.
	Timeout time.Duration
	// Env names the host environment variables the guest sees (those
	// that are set); every other variable is hidden.
	Env []string
}

// Options are host settings that do not change what a plugin may do.
type Options struct {
	// CacheDir holds compiled modules across runs ("" : the user cache
	// directory's conveyor/wasm, e.g. ~/.cache/conveyor/wasm; "-": no
	// disk cache). The first compilation of an Arrow-using guest takes
	// seconds, a cached one a fraction of a second.
	CacheDir string
	// Logger receives the guest's standard output and error, one record
	// per line (nil: discarded).
	Logger *slog.Logger
}

// Info is what a plugin says about itself.
type Info struct {
	// Path is the module file as given to Open.
	Path        string
	Name        string
	Version     string
	Description string
	// APIVersion is the plugin ABI version the module was built for.
	APIVersion int
	Stages     []StageInfo
}

// StageInfo is one stage's metadata, in the shape of a built-in stage's
// spec.
type StageInfo struct {
	Name        string      `json:"name"`
	Kind        string      `json:"kind"`
	Summary     string      `json:"summary"`
	Description string      `json:"description"`
	Tags        []string    `json:"tags,omitempty"`
	Stateful    bool        `json:"stateful,omitempty"`
	Params      []ParamInfo `json:"params"`
	Examples    []Example   `json:"examples"`
}

// ParamInfo describes a stage parameter. Type is a flow.ParamType name
// ("str", "int", "float", "bool", "list", "table", "dur", "any").
type ParamInfo struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Required bool     `json:"required,omitempty"`
	Default  any      `json:"default,omitempty"`
	Allowed  []string `json:"allowed,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Doc      string   `json:"doc"`
}

// Example is a worked use of a stage (see flow.Example).
type Example struct {
	Title  string `json:"title"`
	Config string `json:"config"`
	Input  string `json:"input,omitempty"`
	Output string `json:"output,omitempty"`
}

// ABIVersion is the plugin ABI this host speaks; it equals the guest
// SDK's guest.ABIVersion.
const ABIVersion = 1
