package plugins

import (
	"errors"
)

// APIVersion is the plugin API version this Conveyor implements
// (CONVEYOR_PLUGIN_API_VERSION in include/conveyor_plugin.h).
const APIVersion = 1

// DeclareSymbol is the one symbol a plugin exports.
const DeclareSymbol = "conveyor_plugin_declare"

// HostCommand is the (hidden) conveyor subcommand that runs a plugin in a
// child process: `conveyor plugin-host FILE`.
const HostCommand = "plugin-host"

// Isolation modes.
const (
	// IsolationNone runs the library in the Conveyor process.
	IsolationNone = "none"
	// IsolationProcess runs the library in a child `conveyor plugin-host`.
	IsolationProcess = "process"
)

// Sentinel errors, wrapped with the file's path; test with errors.Is.
var (
	// ErrLoad: the dynamic loader refused the file (missing, not a shared
	// library, built for another platform).
	ErrLoad = errors.New("cannot load plugin")
	// ErrMissingSymbol: the library does not export conveyor_plugin_declare.
	ErrMissingSymbol = errors.New("not a Conveyor plugin")
	// ErrAPIVersion: the library was built for another plugin API version.
	ErrAPIVersion = errors.New("plugin API version mismatch")
	// ErrMetadata: the declaration or a stage's metadata JSON is invalid.
	ErrMetadata = errors.New("invalid plugin metadata")
	// ErrCrashed: the child process running the plugin died.
	ErrCrashed = errors.New("plugin host process died")
	// ErrClosed: the plugin was closed.
	ErrClosed = errors.New("plugin closed")
)

// Options configure Open.
type Options struct {
	// Isolation is IsolationNone (default) or IsolationProcess.
	Isolation string
	// HostBinary is the executable started for process isolation as
	// `HostBinary plugin-host FILE` (default: os.Executable(), the running
	// conveyor binary). A test binary may serve as its own host by calling
	// HostMain from TestMain when os.Args[1] is HostCommand.
	HostBinary string
}

// Info describes a plugin: what `conveyor plugin info` shows.
type Info struct {
	Path        string      `json:"path"`
	Name        string      `json:"name"`
	Version     string      `json:"version"`
	Description string      `json:"description"`
	APIVersion  int         `json:"api_version"`
	Isolation   string      `json:"isolation"`
	Stages      []StageInfo `json:"stages"`
}

// StageInfo is one stage's metadata as the plugin declares it (the JSON
// shape documented in conveyor_plugin.h).
type StageInfo struct {
	Name        string        `json:"name"`
	Kind        string        `json:"kind"`
	Summary     string        `json:"summary"`
	Description string        `json:"description"`
	Tags        []string      `json:"tags,omitempty"`
	Stateful    bool          `json:"stateful,omitempty"`
	Unbounded   bool          `json:"unbounded,omitempty"`
	Params      []ParamInfo   `json:"params"`
	Examples    []ExampleInfo `json:"examples,omitempty"`
}

// ParamInfo is one parameter of a plugin stage.
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

// ExampleInfo is a worked example of a plugin stage (see flow.Example).
type ExampleInfo struct {
	Title     string            `json:"title"`
	Config    string            `json:"config"`
	Input     string            `json:"input,omitempty"`
	Output    string            `json:"output,omitempty"`
	Files     map[string]string `json:"files,omitempty"`
	WantFiles map[string]string `json:"want_files,omitempty"`
}
