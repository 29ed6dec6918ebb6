package join

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

const joinName = "join.apply"

type how int

const (
	inner how = iota
	leftOuter
	rightOuter
	fullOuter
	semi
	anti
)

var hows = map[string]how{"inner": inner, "left": leftOuter, "right": rightOuter, "full": fullOuter, "semi": semi, "anti": anti}

// config is join.apply's validated configuration.
type config struct {
	how       how
	leftKeys  []string
	rightKeys []string
	using     bool // keys given with `on`: one output column per key
	suffix    string
	keyParam  string // "on" or "left_on"
}

func readConfig(cfg flow.Config) (*config, error) {
	c := &config{how: hows[cfg.Str("how")], suffix: cfg.Str("suffix")}
	if !cfg.Has("suffix") {
		c.suffix = "_right"
	}
	on, lo, ro := cfg.Strings("on"), cfg.Strings("left_on"), cfg.Strings("right_on")
	switch {
	case cfg.Has("on") && (cfg.Has("left_on") || cfg.Has("right_on")):
		return nil, &flow.ParamError{Key: "on", Err: errors.New("give either on, or left_on and right_on, not both")}
	case cfg.Has("on"):
		if len(on) == 0 {
			return nil, &flow.ParamError{Key: "on", Err: errors.New("needs at least one key column")}
		}
		c.leftKeys, c.rightKeys, c.using, c.keyParam = on, on, true, "on"
	case cfg.Has("left_on") || cfg.Has("right_on"):
		if len(lo) == 0 || len(ro) == 0 {
			return nil, &flow.ParamError{Key: "left_on", Err: errors.New("left_on and right_on must both be given, with at least one key column")}
		}
		if len(lo) != len(ro) {
			return nil, &flow.ParamError{Key: "right_on", Err: fmt.Errorf("has %d columns but left_on has %d", len(ro), len(lo))}
		}
		c.leftKeys, c.rightKeys, c.keyParam = lo, ro, "left_on"
	default:
		return nil, &flow.ParamError{Key: "on", Err: errors.New("join.apply needs on, or left_on and right_on")}
	}
	return c, nil
}

// outCol is one output column: taken from the left or the right input
// (column idx); for right and full joins with `on`, a key column takes the
// right key (column coalesce) where the left row is missing.
type outCol struct {
	right    bool
	idx      int
	coalesce int
}

// layout is the output of a join for one pair of input schemas.
type layout struct {
	schema *arrow.Schema
	cols   []outCol
	plans  []keyPair
	lIdx   []int // left key columns
	rIdx   []int // right key columns
}

func columnIndex(schema *arrow.Schema, name string) (int, error) {
	if idx := schema.FieldIndices(name); len(idx) > 0 {
		return idx[0], nil
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	return -1, &operators.UnknownColumnError{Stage: joinName, Column: name, Suggestion: flow.Nearest(name, names), Available: names}
}

// plan binds the configuration to the input schemas. Either schema may be
// nil (that input delivered no batch): its columns are then absent.
func (c *config) plan(ls, rs *arrow.Schema) (*layout, error) {
	lk := make([]int, len(c.leftKeys))
	rk := make([]int, len(c.rightKeys))
	rightKeyParam := c.keyParam
	if !c.using {
		rightKeyParam = "right_on"
	}
	for i, name := range c.leftKeys {
		if ls == nil {
			break
		}
		idx, err := columnIndex(ls, name)
		if err != nil {
			return nil, &flow.ParamError{Key: c.keyParam, Err: fmt.Errorf("%w (left input)", err)}
		}
		lk[i] = idx
	}
	for i, name := range c.rightKeys {
		if rs == nil {
			break
		}
		idx, err := columnIndex(rs, name)
		if err != nil {
			return nil, &flow.ParamError{Key: rightKeyParam, Err: fmt.Errorf("%w (right input)", err)}
		}
		rk[i] = idx
	}
	l := &layout{lIdx: lk, rIdx: rk}
	if ls != nil && rs != nil {
		for i := range lk {
			p, err := planKey(c.leftKeys[i], c.rightKeys[i], ls.Field(lk[i]).Type, rs.Field(rk[i]).Type)
			if err != nil {
				return nil, &flow.ParamError{Key: c.keyParam, Err: err}
			}
			l.plans = append(l.plans, p)
		}
	}
	var fields []arrow.Field
	names := map[string]bool{}
	if ls != nil {
		for i, f := range ls.Fields() {
			oc := outCol{idx: i, coalesce: -1}
			if c.how == rightOuter || c.how == fullOuter {
				f.Nullable = true
				if c.using && rs != nil {
					for k, idx := range lk {
						if idx == i {
							oc.coalesce = rk[k]
							f.Type = batch.WidenType(f.Type, rs.Field(rk[k]).Type)
						}
					}
				}
			}
			fields = append(fields, f)
			l.cols = append(l.cols, oc)
			names[f.Name] = true
		}
	}
	if rs != nil && c.how != semi && c.how != anti {
		for i, f := range rs.Fields() {
			isKey := false
			for _, idx := range rk {
				isKey = isKey || idx == i
			}
			if c.using && isKey && ls != nil {
				continue
			}
			if names[f.Name] {
				f.Name += c.suffix
				if names[f.Name] {
					return nil, &flow.ParamError{Key: "suffix", Err: fmt.Errorf("%s: %w %q: right column %q clashes with a left column even with the suffix", joinName, operators.ErrDuplicateColumn, f.Name, rs.Field(i).Name)}
				}
			}
			if c.how == leftOuter || c.how == fullOuter {
				f.Nullable = true
			}
			fields = append(fields, f)
			l.cols = append(l.cols, outCol{right: true, idx: i, coalesce: -1})
			names[f.Name] = true
		}
	}
	l.schema = arrow.NewSchema(fields, nil)
	return l, nil
}

func joinSchema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	c, err := readConfig(cfg)
	if err != nil {
		return nil, err
	}
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%s takes two inputs (left, right), got %d", joinName, len(inputs))
	}
	l, err := c.plan(inputs[0], inputs[1])
	if err != nil {
		return nil, err
	}
	return l.schema, nil
}

func checkJoin(cfg flow.Config) []*flow.ConfigError {
	if _, err := readConfig(cfg); err != nil {
		var pe *flow.ParamError
		if errors.As(err, &pe) {
			return []*flow.ConfigError{{Key: pe.Key, Message: pe.Err.Error()}}
		}
		return []*flow.ConfigError{{Message: err.Error()}}
	}
	return nil
}
