package expr

import (
	"sort"
)

// builtin compiles a call whose arguments are compiled.
type builtin struct {
	min, max int // arity; max -1: variadic
	doc      string
	compile  func(cp *compiler, n *Call, args []node) (node, error)
}

var builtins map[string]*builtin

func init() {
	builtins = map[string]*builtin{
		"if":        {3, 3, "if(cond, a, b): a where cond is true, else b (null cond: b)", compileIf},
		"coalesce":  {1, -1, "coalesce(a, b, ...): the first non-null argument", compileCoalesce},
		"now":       {0, 0, "now(): the current time (read once per batch)", compileNow},
		"int":       {1, 1, "int(x): to int (failed conversion: null)", castTo(Int)},
		"float":     {1, 1, "float(x): to float", castTo(Float)},
		"string":    {1, 1, "string(x): to string", castTo(String)},
		"bool":      {1, 1, "bool(x): to bool", castTo(Bool)},
		"timestamp": {1, 1, "timestamp(x): to timestamp", castTo(Timestamp)},
		"duration":  {1, 1, "duration(x): to duration", castTo(Duration)},
	}
	registerFuncs()
}

// funcNames lists the function names (for suggestions).
func funcNames() []string {
	names := make([]string, 0, len(builtins))
	for k := range builtins {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (cp *compiler) call(n *Call) (node, error) {
	b, ok := builtins[n.Name]
	if !ok {
		if s := nearestName(n.Name, funcNames()); s != "" {
			return nil, cp.errf(n, "unknown function %q (did you mean %q?)", n.Name, s)
		}
		return nil, cp.errf(n, "unknown function %q", n.Name)
	}
	if err := cp.checkArgs(n, b.min, b.max); err != nil {
		return nil, err
	}
	args := make([]node, len(n.Args))
	for k, a := range n.Args {
		x, err := cp.compile(a)
		if err != nil {
			return nil, err
		}
		args[k] = x
	}
	return b.compile(cp, n, args)
}

func compileIf(cp *compiler, n *Call, args []node) (node, error) {
	if t := args[0].typ(); t != Bool && t != Null {
		return nil, cp.errf(n.Args[0], "if condition must be bool, got %s", t)
	}
	return cp.choose(n, "if", args[:1], args[1:2], args[2], []Type{args[1].typ(), args[2].typ()})
}

func compileCoalesce(cp *compiler, n *Call, args []node) (node, error) {
	types := make([]Type, len(args))
	for k, a := range args {
		types[k] = a.typ()
	}
	t, err := cp.commonType(n, "coalesce", types...)
	if err != nil {
		return nil, err
	}
	var vals []node
	for k := range args {
		a, err := cp.coerce(args[k], n.Args[k], t)
		if err != nil {
			return nil, err
		}
		if c, ok := a.(*constNode); ok {
			if c.v.isNull() {
				continue
			}
			vals = append(vals, a)
			break // a constant is never null: later arguments are unused
		}
		vals = append(vals, a)
	}
	switch len(vals) {
	case 0:
		return constNull(t), nil
	case 1:
		return vals[0], nil
	}
	return &caseNode{t: t, vals: vals, coal: true}, nil
}

func compileNow(cp *compiler, n *Call, args []node) (node, error) { return &nowNode{}, nil }

func castTo(t Type) func(cp *compiler, n *Call, args []node) (node, error) {
	return func(cp *compiler, n *Call, args []node) (node, error) {
		from := args[0].typ()
		ok := false
		switch {
		case from == t, from == Null, from == String, t == String:
			ok = true
		case t == Int || t == Float || t == Bool:
			ok = from == Int || from == Float || from == Bool || (t != Bool && (from == Timestamp || from == Duration))
		case t == Timestamp, t == Duration:
			ok = from == Int || from == Float
		}
		if !ok {
			return nil, cp.errf(n, "cannot convert %s to %s", from, t)
		}
		if from == Null {
			return constNull(t), nil
		}
		return cp.fold(&castNode{x: args[0], from: from, to: t}), nil
	}
}
