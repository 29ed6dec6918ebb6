// Package catalog builds the registry of every built-in stage, in one
// place: each stage package exposes Register and is listed here.
package catalog

import (
	"os"

	"github.com/conveyor-etl/conveyor/connectors/arrowipc"
	csvconn "github.com/conveyor-etl/conveyor/connectors/csv"
	"github.com/conveyor-etl/conveyor/connectors/discard"
	"github.com/conveyor-etl/conveyor/connectors/filewatch"
	"github.com/conveyor-etl/conveyor/connectors/generate"
	httpconn "github.com/conveyor-etl/conveyor/connectors/http"
	"github.com/conveyor-etl/conveyor/connectors/jsonfile"
	"github.com/conveyor-etl/conveyor/connectors/kafka"
	"github.com/conveyor-etl/conveyor/connectors/mongodb"
	"github.com/conveyor-etl/conveyor/connectors/parquet"
	"github.com/conveyor-etl/conveyor/connectors/stdio"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/operators/aggregate"
	"github.com/conveyor-etl/conveyor/operators/ai"
	"github.com/conveyor-etl/conveyor/operators/convert"
	"github.com/conveyor-etl/conveyor/operators/crypt"
	"github.com/conveyor-etl/conveyor/operators/httpfetch"
	"github.com/conveyor-etl/conveyor/operators/join"
	"github.com/conveyor-etl/conveyor/operators/order"
	"github.com/conveyor-etl/conveyor/operators/subpipeline"
	"github.com/conveyor-etl/conveyor/operators/validate"
	"github.com/conveyor-etl/conveyor/window"
)

// Registry returns a new registry holding every built-in stage, with the
// stdio stages bound to the process's stdin and stdout.
func Registry() *flow.Registry {
	return RegistryWith(stdio.Streams{})
}

// RegistryWith is Registry with the stdio stages bound to the given streams
// (zero fields mean the process's own).
func RegistryWith(s stdio.Streams) *flow.Registry {
	if s.Stdin == nil {
		s.Stdin = os.Stdin
	}
	if s.Stdout == nil {
		s.Stdout = os.Stdout
	}
	r := flow.NewRegistry()
	csvconn.Register(r)
	jsonfile.Register(r)
	parquet.Register(r)
	arrowipc.Register(r)
	discard.Register(r)
	filewatch.Register(r)
	generate.Register(r)
	kafka.Register(r)
	httpconn.RegisterSources(r)
	httpconn.RegisterSinks(r)
	mongodb.Register(r)
	stdio.RegisterIO(r, s)
	operators.Register(r)
	order.Register(r)
	join.Register(r)
	aggregate.Register(r)
	convert.Register(r)
	crypt.Register(r)
	validate.Register(r)
	httpfetch.Register(r)
	ai.Register(r)
	window.Register(r)
	subpipeline.Register(r) // last: its inner pipelines see every stage
	return r
}
