package flow

import (
	"fmt"
	"sort"
	"strings"
)

// Registry holds every stage spec Conveyor knows. It is built explicitly in
// one place (see the root package's registration function); nothing
// registers itself from init.
type Registry struct {
	specs   map[string]*Spec
	aliases map[string]string
	// byInputs are legacy names that mean a source without inputs and a
	// sink with them (function = "kafka").
	byInputs map[string][2]string
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{specs: map[string]*Spec{}, aliases: map[string]string{}, byInputs: map[string][2]string{}}
}

// AliasByInputs makes name mean the stage source in a stage without
// inputs and the stage sink in one with inputs (the original Conveyor's
// function = "kafka").
func (r *Registry) AliasByInputs(name, source, sink string) {
	r.byInputs[name] = [2]string{source, sink}
}

// LookupFor is Lookup for a stage declared with or without inputs.
func (r *Registry) LookupFor(name string, hasInputs bool) (*Spec, bool) {
	if pair, ok := r.byInputs[name]; ok {
		if hasInputs {
			return r.Lookup(pair[1])
		}
		return r.Lookup(pair[0])
	}
	return r.Lookup(name)
}

// CommonParams are accepted by every stage.
var CommonParams = []Param{
	{Name: "on_error", Type: TypeString, Allowed: []string{"stop", "continue", "retry"},
		Doc: "Error strategy for this stage, overriding [error_handling].strategy."},
}

// Register adds a spec. It panics on a programmer error: a duplicate name or
// alias, a missing constructor or kind.
func (r *Registry) Register(s *Spec) {
	if s.Name == "" || s.New == nil || s.Kind == 0 {
		panic(fmt.Sprintf("flow: incomplete spec %q", s.Name))
	}
	if _, dup := r.specs[s.Name]; dup {
		panic(fmt.Sprintf("flow: stage %q registered twice", s.Name))
	}
	switch {
	case s.MinInputs < 0:
		s.MinInputs = 0 // a transform that may also run without inputs
	case s.Kind != KindSource && s.MinInputs == 0:
		s.MinInputs = 1
	}
	for _, c := range CommonParams {
		if s.Param(c.Name) == nil {
			s.Params = append(s.Params, c)
		}
	}
	r.specs[s.Name] = s
	for _, a := range s.Aliases {
		if _, dup := r.aliases[a]; dup {
			panic(fmt.Sprintf("flow: alias %q registered twice", a))
		}
		r.aliases[a] = s.Name
	}
}

// Lookup finds a spec by name or legacy alias.
func (r *Registry) Lookup(name string) (*Spec, bool) {
	if s, ok := r.specs[name]; ok {
		return s, true
	}
	if n, ok := r.aliases[name]; ok {
		return r.specs[n], true
	}
	return nil, false
}

// Specs returns every spec sorted by kind, then name.
func (r *Registry) Specs() []*Spec {
	out := make([]*Spec, 0, len(r.specs))
	for _, s := range r.specs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Suggest returns the registered name closest to name, or "".
func (r *Registry) Suggest(name string) string {
	cands := make([]string, 0, len(r.specs)+len(r.aliases))
	for n := range r.specs {
		cands = append(cands, n)
	}
	for a := range r.aliases {
		cands = append(cands, a)
	}
	return Nearest(name, cands)
}

// Nearest returns the candidate closest to s by edit distance when it is
// close enough to be a plausible typo, or "".
func Nearest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(ls, strings.ToLower(c))
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := len(s)/3 + 1
	if limit > 4 {
		limit = 4
	}
	if bestD <= limit {
		return best
	}
	// A candidate that contains the name (or the reverse) is also a good
	// guess: "csv" -> "csv.read".
	for _, c := range candidates {
		if len(s) >= 3 && (strings.Contains(c, s) || strings.Contains(s, c)) {
			return c
		}
	}
	return ""
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
