package operators

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/flow"
)

const selectName = "select.apply"

// selectOp is select.apply's Transformer: it keeps, drops, reorders and
// renames columns without copying any data. It is not safe for concurrent
// use.
type selectOp struct {
	columns []string // nil: every column
	drop    []string
	rename  map[string]string
	order   []string // rename's keys in file order

	schema    *arrow.Schema // input schema the plan was bound to
	outSchema *arrow.Schema // nil: pass the input through
	keep      []int
}

func newSelect(cfg flow.Config, env flow.BuildEnv) (any, error) {
	s := &selectOp{drop: cfg.Strings("drop"), rename: map[string]string{}}
	if cfg.Has("columns") {
		s.columns = cfg.Strings("columns")
	}
	for _, k := range cfg.SortedKeys("rename") {
		s.rename[k] = fmt.Sprint(cfg.Table("rename")[k])
		s.order = append(s.order, k)
	}
	return s, nil
}

// Transform returns a batch sharing in's column arrays (each Retained by
// the new batch). When the configuration leaves the batch unchanged it
// Retains and returns in. It borrows in.
func (s *selectOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if s.schema == nil || (s.schema != in.Schema() && !s.schema.Equal(in.Schema())) {
		if err := s.rebind(in.Schema()); err != nil {
			return nil, err
		}
	}
	if s.outSchema == nil {
		in.Retain()
		return in, nil
	}
	cols := make([]arrow.Array, len(s.keep))
	for i, idx := range s.keep {
		cols[i] = in.Column(idx)
	}
	return array.NewRecordBatch(s.outSchema, cols, in.NumRows()), nil
}

func (s *selectOp) rebind(schema *arrow.Schema) error {
	var keep []int
	if s.columns != nil {
		seen := map[string]bool{}
		for _, name := range s.columns {
			idx, err := columnIndex(selectName, schema, name)
			if err != nil {
				return err
			}
			if seen[name] {
				return fmt.Errorf("%s: columns: %w %q listed twice", selectName, ErrDuplicateColumn, name)
			}
			seen[name] = true
			keep = append(keep, idx)
		}
	} else {
		for i := range schema.NumFields() {
			keep = append(keep, i)
		}
	}
	for _, name := range s.drop {
		idx, err := columnIndex(selectName, schema, name)
		if err != nil {
			return fmt.Errorf("%w (in drop)", err)
		}
		for i := 0; i < len(keep); i++ {
			if schema.Field(keep[i]).Name == schema.Field(idx).Name {
				keep = append(keep[:i], keep[i+1:]...)
				i--
			}
		}
	}
	fields := make([]arrow.Field, len(keep))
	for i, idx := range keep {
		fields[i] = schema.Field(idx)
	}
	for _, old := range s.order {
		if _, err := columnIndex(selectName, schema, old); err != nil {
			return fmt.Errorf("%w (in rename)", err)
		}
		found := false
		for i := range fields {
			if fields[i].Name == old {
				fields[i].Name, found = s.rename[old], true
			}
		}
		if !found {
			return fmt.Errorf("%s: rename: column %q is not in the output (it is dropped or not listed in columns)", selectName, old)
		}
	}
	names := map[string]bool{}
	for _, f := range fields {
		if names[f.Name] {
			return fmt.Errorf("%s: %w %q in the output (check rename)", selectName, ErrDuplicateColumn, f.Name)
		}
		names[f.Name] = true
	}
	identity := len(keep) == schema.NumFields() && len(s.order) == 0
	for i, idx := range keep {
		identity = identity && i == idx
	}
	s.schema, s.keep, s.outSchema = schema, keep, nil
	if !identity {
		meta := schema.Metadata()
		s.outSchema = arrow.NewSchema(fields, &meta)
	}
	return nil
}

// checkSelect is select.apply's cross-parameter validation.
func checkSelect(cfg flow.Config) []*flow.ConfigError {
	var errs []*flow.ConfigError
	if !cfg.Has("columns") && !cfg.Has("drop") && !cfg.Has("rename") {
		errs = append(errs, &flow.ConfigError{Key: "columns", Message: "select.apply needs at least one of columns, drop or rename"})
	}
	for k, v := range cfg.Table("rename") {
		if s, ok := v.(string); !ok || s == "" {
			errs = append(errs, &flow.ConfigError{Key: "rename", Message: fmt.Sprintf("new name for %q must be a non-empty string, got %s", k, describeValue(v))})
		}
	}
	return errs
}
