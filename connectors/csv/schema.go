package csvconn

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// readSchema is csv.read's Spec.Schema: it reads the header and the type
// sample of every matching file (nothing more) and returns the schema the
// run will emit. No matching file gives an unknown schema (nil): the file
// may be produced before the run.
func readSchema(cfg flow.Config, env flow.BuildEnv, _ []*arrow.Schema) (*arrow.Schema, error) {
	opts, err := ReadOptionsFromConfig(cfg, flow.BuildEnv{BatchSize: env.BatchSize})
	if err != nil {
		return nil, err
	}
	files := fileio.ExpandExisting(env.Path(cfg.Str("path")))
	if len(files) == 0 {
		return nil, nil
	}
	mem := env.Alloc
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	rd, err := newReader(opts, mem)
	if err != nil {
		return nil, err
	}
	probes := make([]*probeResult, 0, len(files))
	names := make([]string, len(files))
	for i, path := range files {
		names[i] = displayName(path, env.BaseDir)
		in, err := openInput(path, opts)
		if err != nil {
			return nil, &flow.ParamError{Key: "path", Err: err}
		}
		pr, err := rd.probe(&feeder{r: in}, names[i], rd.needInference())
		in.Close()
		if err != nil {
			return nil, &flow.ParamError{Key: "path", Err: err}
		}
		probes = append(probes, pr)
	}
	lays, err := rd.resolve(probes, names)
	if err != nil {
		key := "schema"
		if opts.Columns != nil {
			key = "columns"
		}
		return nil, &flow.ParamError{Key: key, Err: fmt.Errorf("csv.read: %w", err)}
	}
	if len(lays) == 0 || lays[0].schema.NumFields() == 0 {
		return nil, nil
	}
	return lays[0].schema, nil
}
