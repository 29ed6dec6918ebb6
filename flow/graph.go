package flow

import (
	"fmt"
	"slices"
	"strings"
)

// InputRef names one input edge: a stage and one of its ports ("" is the
// main output).
type InputRef struct {
	Stage string
	Port  string
}

func (r InputRef) String() string {
	if r.Port == "" {
		return r.Stage
	}
	return r.Stage + "." + r.Port
}

// Node is one validated stage of a Graph.
type Node struct {
	ID       string
	Spec     *Spec
	Config   Config
	Inputs   []InputRef
	Strategy Strategy
	// Line is the line of the stage's [[stages]] header (0 if unknown).
	Line int
	// decl is the index of the stage's declaration in the file.
	decl int
}

// Graph is a validated pipeline: every stage's function is known, its
// config type-checked, and its inputs form a DAG. Nodes are in topological
// order (every stage after its inputs).
type Graph struct {
	File  *File
	Nodes []*Node
	byID  map[string]*Node
}

// Node returns the stage with the given id.
func (g *Graph) Node(id string) *Node { return g.byID[id] }

// Consumers returns the stages reading the given stage's port, with the
// index of that input among their inputs.
func (g *Graph) Consumers(id, port string) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in.Stage == id && in.Port == port {
				out = append(out, n)
			}
		}
	}
	return out
}

// UnboundedSources lists the sources that never end by themselves as
// configured (they need `conveyor stream`).
func (g *Graph) UnboundedSources() []string {
	var out []string
	for _, n := range g.Nodes {
		if n.Spec.Kind == KindSource && n.Spec.Unbounded != nil && n.Spec.Unbounded(n.Config) {
			out = append(out, n.ID)
		}
	}
	return out
}

// Validate checks a pipeline file against the registry and returns the
// graph. The error, when not nil, is a ConfigErrors holding every problem
// found, each with file, line, stage id and key where known.
func Validate(f *File, reg *Registry) (*Graph, error) {
	errs := append(ConfigErrors{}, f.problems...)
	add := func(i int, stage, key, format string, args ...any) {
		errs = append(errs, &ConfigError{File: f.Path, Line: f.lines.stageLine(i, key), Stage: stage,
			Key: key, Message: fmt.Sprintf(format, args...)})
	}
	g := &Graph{File: f, byID: map[string]*Node{}}
	var ids []string
	for _, d := range f.Stages {
		if d.ID != "" {
			ids = append(ids, d.ID)
		}
	}
	if len(f.Stages) == 0 {
		errs = append(errs, &ConfigError{File: f.Path, Message: "the pipeline has no [[stages]]"})
	}
	nodes := make([]*Node, 0, len(f.Stages))
	for _, d := range f.Stages {
		i := d.Index
		label := d.ID
		if d.ID == "" {
			label = fmt.Sprintf("#%d", i+1)
			add(i, label, "id", "every stage needs an id")
		} else if _, dup := g.byID[d.ID]; dup {
			add(i, d.ID, "id", "duplicate stage id (first used on line %d)", g.byID[d.ID].Line)
			continue
		}
		n := &Node{ID: label, Line: f.lines.stageLine(i, ""), Strategy: f.ErrorHandling.Strategy, decl: i}
		if d.ID != "" {
			g.byID[d.ID] = n
		}
		if d.Function == "" {
			add(i, label, "function", "every stage needs a function (e.g. function = \"csv.read\")")
		} else if spec, ok := reg.LookupFor(d.Function, len(d.Inputs) > 0); !ok {
			msg := fmt.Sprintf("unknown function %q", d.Function)
			if s := reg.Suggest(d.Function); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			add(i, label, "function", "%s; `conveyor list` shows every stage", msg)
		} else {
			n.Spec = spec
			cfg, cerrs := CheckConfig(spec, d.Config)
			for _, e := range cerrs {
				key := e.Key
				if key != "" {
					key = "config." + key
				}
				add(i, label, key, "%s", e.Message)
			}
			n.Config = cfg
			if s := cfg.Str("on_error"); s != "" {
				n.Strategy = Strategy(s)
			}
		}
		for _, in := range d.Inputs {
			n.Inputs = append(n.Inputs, parseInputRef(in, g, f.Stages))
		}
		nodes = append(nodes, n)
	}
	// Edges.
	for _, d := range f.Stages {
		n := g.byID[d.ID]
		if n == nil {
			continue
		}
		i := d.Index
		switch {
		case n.Spec == nil:
		case n.Spec.Kind == KindSource && len(n.Inputs) > 0 && n.Spec.MaxInputs == 0:
			add(i, n.ID, "inputs", "%s is a source and takes no inputs", n.Spec.Name)
		case n.Spec.Kind != KindSource && len(n.Inputs) < n.Spec.MinInputs:
			add(i, n.ID, "inputs", "%s is a %s and needs at least %d input(s)", n.Spec.Name, n.Spec.Kind, n.Spec.MinInputs)
		case n.Spec.MaxInputs > 0 && len(n.Inputs) > n.Spec.MaxInputs:
			add(i, n.ID, "inputs", "%s takes at most %d input(s), got %d", n.Spec.Name, n.Spec.MaxInputs, len(n.Inputs))
		}
		for _, in := range n.Inputs {
			src := g.byID[in.Stage]
			if src == nil {
				msg := fmt.Sprintf("input %q names no stage", in.String())
				if s := Nearest(in.Stage, ids); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				add(i, n.ID, "inputs", "%s", msg)
				continue
			}
			if src.Spec == nil {
				continue
			}
			if in.Port == "" && src.Spec.Kind == KindSink {
				add(i, n.ID, "inputs", "input %q is a sink, which has no output (its rejected rows are %q)", in.Stage, in.Stage+".errors")
			}
			if in.Port != "" {
				ports := append([]string{PortErrors}, src.Spec.Ports...)
				if !slices.Contains(ports, in.Port) {
					add(i, n.ID, "inputs", "stage %q has no output port %q (ports: %s)", in.Stage, in.Port, strings.Join(ports, ", "))
				}
			}
			if in.Stage == n.ID {
				add(i, n.ID, "inputs", "a stage cannot take its own output as input")
			}
		}
	}
	// Topological order, reporting a cycle.
	order, cycle := topoSort(nodes, g.byID)
	if cycle != nil {
		first := g.byID[cycle[0]]
		errs = append(errs, &ConfigError{File: f.Path, Line: first.Line, Stage: cycle[0], Key: "inputs",
			Message: "the stages form a cycle: " + strings.Join(cycle, " -> ")})
	}
	g.Nodes = order
	if len(errs) > 0 {
		return g, errs
	}
	return g, nil
}

// parseInputRef splits "stage.port". A whole string naming a stage wins
// over a split, so stage ids may contain dots.
func parseInputRef(s string, g *Graph, decls []StageDecl) InputRef {
	for _, d := range decls {
		if d.ID == s {
			return InputRef{Stage: s}
		}
	}
	if i := strings.LastIndex(s, "."); i > 0 {
		return InputRef{Stage: s[:i], Port: s[i+1:]}
	}
	return InputRef{Stage: s}
}

// topoSort orders nodes so that inputs come first (stable with respect to
// file order). When the inputs contain a cycle it returns one, as a path
// whose first and last elements are equal.
func topoSort(nodes []*Node, byID map[string]*Node) ([]*Node, []string) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var order []*Node
	var stack []string
	var cycle []string
	var visit func(n *Node) bool
	visit = func(n *Node) bool {
		color[n.ID] = grey
		stack = append(stack, n.ID)
		for _, in := range n.Inputs {
			m := byID[in.Stage]
			if m == nil || m == n {
				continue
			}
			switch color[m.ID] {
			case grey:
				j := slices.Index(stack, m.ID)
				cycle = append(append([]string{}, stack[j:]...), m.ID)
				return false
			case white:
				if !visit(m) {
					return false
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n.ID] = black
		order = append(order, n)
		return true
	}
	for _, n := range nodes {
		if color[n.ID] == white && !visit(n) {
			// Report the cycle in data-flow direction.
			slices.Reverse(cycle)
			return nodes, cycle
		}
	}
	return order, nil
}
