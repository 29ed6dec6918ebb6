package flow

import (
	"errors"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
)

// neededColumns computes, for every stage, the columns its consumers read
// from its main output (projection pushdown). A nil entry means every
// column: a consumer without Spec.Uses, a sink, or any side-port consumer
// makes its input need everything.
func (g *Graph) neededColumns() map[string][]string {
	need := map[string][]string{}
	all := map[string]bool{} // stage → some consumer needs every column
	seen := map[string]bool{}
	// Reverse topological order: every consumer before its inputs.
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		var out []string
		if !all[n.ID] && seen[n.ID] {
			out = need[n.ID]
		}
		var in []string
		switch {
		case n.Spec.Kind == KindSink, n.Spec.Uses == nil:
			in = nil
		case len(n.Inputs) != 1:
			in = nil // joins and unions: conservative
		default:
			in = n.Spec.Uses(n.Config, out)
		}
		for _, ref := range n.Inputs {
			if ref.Port != "" {
				continue // side outputs have fixed schemas
			}
			seen[ref.Stage] = true
			if in == nil {
				all[ref.Stage] = true
				continue
			}
			for _, c := range in {
				if !slices.Contains(need[ref.Stage], c) {
					need[ref.Stage] = append(need[ref.Stage], c)
				}
			}
		}
	}
	out := map[string][]string{}
	for _, n := range g.Nodes {
		if seen[n.ID] && !all[n.ID] {
			out[n.ID] = append([]string{}, need[n.ID]...)
		}
	}
	return out
}

// Projection returns the columns each source will read when only some
// are used downstream (sources absent from the map read everything).
func (g *Graph) Projection() map[string][]string {
	need := g.neededColumns()
	out := map[string][]string{}
	for _, n := range g.Nodes {
		if n.Spec.Kind == KindSource {
			if cols, ok := need[n.ID]; ok {
				out[n.ID] = cols
			}
		}
	}
	return out
}

// InferSchemas derives every stage's output schema before the run, in
// topological order, through Spec.Schema (a stage without it, or with an
// input of unknown schema, has an unknown schema: absent from the map).
// Errors are ConfigErrors naming the file, line, stage and key.
func (g *Graph) InferSchemas(env BuildEnv) (map[string]*arrow.Schema, error) {
	f := g.File
	schemas := map[string]*arrow.Schema{}
	var errs ConfigErrors
	for _, n := range g.Nodes {
		if n.Spec.Schema == nil {
			continue
		}
		ins := make([]*arrow.Schema, len(n.Inputs))
		known := true
		for i, ref := range n.Inputs {
			if ref.Port == PortErrors {
				ins[i] = ErrorSchema
				continue
			}
			if ref.Port != "" {
				known = false
				break
			}
			s, ok := schemas[ref.Stage]
			if !ok {
				known = false
				break
			}
			ins[i] = s
		}
		if !known {
			continue
		}
		e := env
		e.StageID = n.ID
		s, err := n.Spec.Schema(n.Config, e, ins)
		if err != nil {
			ce := &ConfigError{File: f.Path, Line: n.Line, Stage: n.ID, Message: err.Error()}
			var pe *ParamError
			if errors.As(err, &pe) {
				ce.Key = "config." + pe.Key
				ce.Message = pe.Err.Error()
				if f.lines != nil {
					if l := f.lines.stageLine(n.decl, pe.Key); l > 0 {
						ce.Line = l
					}
				}
			}
			errs = append(errs, ce)
			continue
		}
		if s != nil {
			schemas[n.ID] = s
		}
	}
	if len(errs) > 0 {
		return schemas, errs
	}
	return schemas, nil
}
