package plugins

import _ "embed"

// Header is include/conveyor_plugin.h, the C ABI a plugin is built
// against (written beside the sources of a new plugin by the scaffold).
//
//go:embed include/conveyor_plugin.h
var Header []byte
