package operators

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

// This file gives the operators of this package their planning hooks:
// Spec.Schema (output schema before the run, for `conveyor validate`) and
// Spec.Uses (the input columns they read, for projection pushdown).

// keyFor wraps err in a flow.ParamError naming the first of keys whose
// configured value mentions the unknown column (else the first key).
func keyFor(cfg flow.Config, err error, keys ...string) error {
	var pe *flow.ParamError
	if errors.As(err, &pe) || len(keys) == 0 {
		return err
	}
	key := keys[0]
	var uc *UnknownColumnError
	if errors.As(err, &uc) {
		for _, k := range keys {
			if mentions(cfg[k], uc.Column) {
				key = k
				break
			}
		}
	}
	return &flow.ParamError{Key: key, Err: err}
}

func mentions(v any, name string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, name)
	case []any:
		for _, e := range v {
			if mentions(e, name) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if k == name || mentions(e, name) {
				return true
			}
		}
	}
	return false
}

// union returns a ∪ b keeping a's order; nil (every column) absorbs.
func union(a []string, b ...string) []string {
	if a == nil {
		return nil
	}
	out := slices.Clone(a)
	for _, c := range b {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func filterSchema(cfg flow.Config, env flow.BuildEnv, in []*arrow.Schema) (*arrow.Schema, error) {
	keys := []string{"value", "column", "operator"}
	if cfg.Has("expr") {
		keys = []string{"expr"}
	}
	op, err := newFilter(cfg, env)
	if err != nil {
		return nil, keyFor(cfg, err, keys...)
	}
	if _, err := op.(*filterOp).bind(in[0]); err != nil {
		var pe *flow.ParamError
		if errors.As(err, &pe) {
			return nil, err
		}
		var uc *UnknownColumnError
		if errors.As(err, &uc) && !cfg.Has("expr") {
			return nil, &flow.ParamError{Key: "column", Err: err}
		}
		return nil, &flow.ParamError{Key: keys[0], Err: err}
	}
	return in[0], nil
}

func filterUses(cfg flow.Config, needed []string) []string {
	if cfg.Has("expr") {
		cols, err := exprColumns(cfg.Str("expr"))
		if err != nil {
			return nil
		}
		return union(needed, cols...)
	}
	return union(needed, cfg.Str("column"))
}

func mapSchema(cfg flow.Config, env flow.BuildEnv, in []*arrow.Schema) (*arrow.Schema, error) {
	op, err := newMap(cfg, env)
	if err != nil {
		return nil, keyFor(cfg, err, "columns", "expression")
	}
	switch m := op.(type) {
	case *exprMapOp:
		if err := m.rebind(in[0]); err != nil {
			return nil, err
		}
		return m.outSchema, nil
	case *mapOp:
		if err := m.rebind(in[0]); err != nil {
			return nil, keyFor(cfg, err, "expression")
		}
		return m.outSchema, nil
	}
	return nil, nil
}

func mapUses(cfg flow.Config, needed []string) []string {
	if needed == nil {
		return nil
	}
	var outputs, refs []string
	if cfg.Has("columns") {
		for _, name := range cfg.SortedKeys("columns") {
			src, _ := cfg.Table("columns")[name].(string)
			cols, err := exprColumns(src)
			if err != nil {
				return nil
			}
			outputs = append(outputs, name)
			refs = append(refs, cols...)
		}
	} else {
		a, err := parseArith(cfg.Str("expression"))
		if err != nil {
			return nil
		}
		outputs = append(outputs, cfg.Str("output_column"))
		for _, o := range []operand{a.left, a.right} {
			if o.column != "" {
				refs = append(refs, o.column)
			}
		}
	}
	var out []string
	for _, c := range needed {
		if !slices.Contains(outputs, c) {
			out = append(out, c)
		}
	}
	if out == nil {
		out = []string{}
	}
	return union(out, refs...)
}

func selectSchema(cfg flow.Config, env flow.BuildEnv, in []*arrow.Schema) (*arrow.Schema, error) {
	op, err := newSelect(cfg, env)
	if err != nil {
		return nil, err
	}
	s := op.(*selectOp)
	if err := s.rebind(in[0]); err != nil {
		return nil, keyFor(cfg, err, "columns", "drop", "rename")
	}
	if s.outSchema == nil {
		return in[0], nil
	}
	return s.outSchema, nil
}

func selectUses(cfg flow.Config, needed []string) []string {
	if cfg.Has("columns") {
		return cfg.Strings("columns")
	}
	if needed == nil {
		return nil
	}
	back := map[string]string{}
	for old, v := range cfg.Table("rename") {
		back[fmt.Sprint(v)] = old
	}
	var out []string
	for _, c := range needed {
		if old, ok := back[c]; ok {
			c = old
		}
		out = append(out, c)
	}
	return union(union(out, cfg.Strings("drop")...), cfg.SortedKeys("rename")...)
}
