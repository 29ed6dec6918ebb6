// Package catalog builds the registry of every built-in stage, in one
// place: each stage package exposes Register and is listed here.
package catalog

import (
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

// Registry returns a new registry holding every built-in stage.
func Registry() *flow.Registry {
	r := flow.NewRegistry()
	for _, register := range registrars {
		register(r)
	}
	return r
}

var registrars = []func(*flow.Registry){
	operators.Register,
}
