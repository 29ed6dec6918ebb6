package builder

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

// Builder asks for stages through a Prompter and checks every answer
// against the registry's specs.
type Builder struct {
	Reg *flow.Registry
	P   Prompter
}

// Stage is a stage built by the Builder.
type Stage struct {
	ID       string
	Function string
	Inputs   []string
	// Params are the parameters that were set, in the spec's order.
	Params []*Value
	// Schema is the stage's output schema when it could be derived before
	// any data flows (nil: unknown).
	Schema *arrow.Schema
}

// TOML renders the stage as a [[stages]] block ending with a newline.
func (s *Stage) TOML() string {
	var b strings.Builder
	b.WriteString("[[stages]]\n")
	fmt.Fprintf(&b, "id = %s\n", quote(s.ID))
	fmt.Fprintf(&b, "function = %s\n", quote(s.Function))
	if len(s.Inputs) > 0 {
		fmt.Fprintf(&b, "inputs = %s\n", FormatTOML(s.Inputs))
	}
	if len(s.Params) > 0 {
		b.WriteString("[stages.config]\n")
		for _, v := range s.Params {
			fmt.Fprintf(&b, "%s = %s\n", Key(v.Key), v.TOML)
		}
	}
	return b.String()
}

// Context is where a new stage goes.
type Context struct {
	// InFile says the stage is added to a pipeline whose stages are
	// Existing: its inputs are chosen among them. Otherwise (a block
	// printed on its own) inputs are typed as ids.
	InFile   bool
	Existing []flow.StageDecl
	// Kind restricts the stage to one kind (0: ask).
	Kind flow.Kind
	// Inputs are offered as the default inputs.
	Inputs []string
	// Schemas are the output schemas of existing stages where known
	// (Graph.InferSchemas): a new stage reading them is checked against
	// them (unknown columns, expression types) as the validator would.
	Schemas map[string]*arrow.Schema
}

func (c Context) ids() []string {
	out := make([]string, 0, len(c.Existing))
	for _, d := range c.Existing {
		if d.ID != "" {
			out = append(out, d.ID)
		}
	}
	return out
}

var kindHelp = map[flow.Kind]string{
	flow.KindSource:    "reads data into the pipeline (files, Kafka, HTTP, MongoDB, generated rows)",
	flow.KindTransform: "changes rows (filter, map, group, join, windows, ...)",
	flow.KindSink:      "writes rows out (files, stdout, Kafka, HTTP, MongoDB)",
}

// Stage asks for one stage: its kind, function, id, inputs and parameters.
func (b *Builder) Stage(c Context) (*Stage, error) {
	kind := c.Kind
	if kind == 0 {
		var opts []Option
		for _, k := range []flow.Kind{flow.KindSource, flow.KindTransform, flow.KindSink} {
			opts = append(opts, Option{Label: fmt.Sprintf("%-9s  %s", k, kindHelp[k]), Value: k.String()})
		}
		def := flow.KindSource.String()
		if len(c.Existing) > 0 {
			def = flow.KindTransform.String()
		}
		ans, err := b.P.Select(SelectQuestion{Title: "What kind of stage?", Options: opts, Default: def})
		if err != nil {
			return nil, err
		}
		for _, k := range []flow.Kind{flow.KindSource, flow.KindTransform, flow.KindSink} {
			if k.String() == ans {
				kind = k
			}
		}
	}
	spec, err := b.askFunction(kind)
	if err != nil {
		return nil, err
	}
	st := &Stage{Function: spec.Name}
	if st.ID, err = b.askID(spec, c); err != nil {
		return nil, err
	}
	if st.Inputs, err = b.askInputs(spec, c); err != nil {
		return nil, err
	}
	if st.Params, st.Schema, err = b.askParams(spec, st.ID, st.Inputs, c.Schemas); err != nil {
		return nil, err
	}
	return st, nil
}

func (b *Builder) askFunction(kind flow.Kind) (*flow.Spec, error) {
	var specs []*flow.Spec
	width := 0
	for _, s := range b.Reg.Specs() {
		if s.Kind == kind {
			specs = append(specs, s)
			width = max(width, len(s.Name))
		}
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("no %s stages are registered", kind)
	}
	opts := make([]Option, len(specs))
	for i, s := range specs {
		opts[i] = Option{Label: fmt.Sprintf("%-*s  %s", width, s.Name, s.Summary), Value: s.Name}
	}
	name, err := b.P.Select(SelectQuestion{
		Title:   fmt.Sprintf("Which %s?", kind),
		Help:    "`conveyor info NAME` describes a stage in full.",
		Options: opts,
	})
	if err != nil {
		return nil, err
	}
	spec, ok := b.Reg.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown stage %q", name)
	}
	return spec, nil
}

// SuggestID proposes an id for a new stage of function name: "filter" for
// filter.apply, "csv_read" for csv.read, made unique against taken.
func SuggestID(name string, taken []string) string {
	base := strings.ReplaceAll(strings.TrimSuffix(name, ".apply"), ".", "_")
	if !idPattern.MatchString(base) {
		base = "stage"
	}
	id := base
	for n := 2; slices.Contains(taken, id); n++ {
		id = fmt.Sprintf("%s_%d", base, n)
	}
	return id
}

func (b *Builder) askID(spec *flow.Spec, c Context) (string, error) {
	taken := c.ids()
	help := "Letters, digits, _ and -; other stages name it in their inputs."
	if len(taken) > 0 {
		help += "\nTaken: " + strings.Join(taken, ", ")
	}
	id, err := b.P.Input(InputQuestion{
		Title:    "Stage id",
		Help:     help,
		Default:  SuggestID(spec.Name, taken),
		Validate: func(s string) error { return CheckID(strings.TrimSpace(s), taken) },
	})
	return strings.TrimSpace(id), err
}

// inputRange describes how many inputs spec takes, and checks a choice.
func inputRange(spec *flow.Spec) (string, func([]string) error) {
	lo, hi := spec.MinInputs, spec.MaxInputs
	var what string
	switch {
	case hi > 0 && lo == hi:
		what = fmt.Sprintf("exactly %d", lo)
	case hi > 0:
		what = fmt.Sprintf("%d to %d", lo, hi)
	default:
		what = fmt.Sprintf("at least %d", lo)
	}
	return what, func(in []string) error {
		if len(in) < lo || (hi > 0 && len(in) > hi) {
			return fmt.Errorf("%s takes %s input(s), got %d", spec.Name, what, len(in))
		}
		return nil
	}
}

func (b *Builder) askInputs(spec *flow.Spec, c Context) ([]string, error) {
	if spec.Kind == flow.KindSource && spec.MaxInputs == 0 {
		return nil, nil
	}
	what, check := inputRange(spec)
	if spec.Kind == flow.KindSource && !c.InFile {
		return nil, nil // a lookup source printed on its own: add inputs by hand
	}
	if !c.InFile {
		ans, err := b.P.Input(InputQuestion{
			Title:   "Inputs",
			Help:    fmt.Sprintf("Ids of the stages this one reads, comma-separated (%s); id.port for a side output such as id.errors.", what),
			Default: strings.Join(c.Inputs, ", "),
			Validate: func(s string) error {
				ids := splitIDs(s)
				for _, id := range ids {
					if !idPattern.MatchString(strings.SplitN(id, ".", 2)[0]) {
						return fmt.Errorf("%q is not a stage id", id)
					}
				}
				return check(ids)
			},
		})
		return splitIDs(ans), err
	}
	var opts []Option
	for _, d := range c.Existing {
		if d.ID == "" {
			continue
		}
		s, ok := b.Reg.LookupFor(d.Function, len(d.Inputs) > 0)
		if !ok {
			opts = append(opts, Option{Label: d.ID, Value: d.ID})
			continue
		}
		if s.Kind != flow.KindSink {
			opts = append(opts, Option{Label: fmt.Sprintf("%s  (%s)", d.ID, s.Name), Value: d.ID})
		}
		for _, port := range append([]string{flow.PortErrors}, s.Ports...) {
			ref := d.ID + "." + port
			opts = append(opts, Option{Label: fmt.Sprintf("%s  (%s rows of %s)", ref, port, d.ID), Value: ref})
		}
	}
	if len(opts) == 0 {
		if spec.MinInputs > 0 {
			return nil, fmt.Errorf("%s needs an input, and the pipeline has no stage yet: add a source first", spec.Name)
		}
		return nil, nil
	}
	var defs []string
	for _, in := range c.Inputs {
		if slices.ContainsFunc(opts, func(o Option) bool { return o.Value == in }) {
			defs = append(defs, in)
		}
	}
	help := fmt.Sprintf("%s takes %s input(s).", spec.Name, what)
	if spec.MinInputs > 1 {
		help += " Their order is the order in this list."
	}
	return b.P.MultiSelect(MultiSelectQuestion{
		Title:    "Inputs",
		Help:     help,
		Options:  opts,
		Defaults: defs,
		Validate: check,
	})
}

func splitIDs(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// maxFixRounds bounds the questions asked to resolve cross-parameter
// problems, so that a scripted prompter cannot loop forever.
const maxFixRounds = 20

// deriveSchema runs spec.Schema as the validator does, when every input's
// schema is known; (nil, nil) otherwise.
func deriveSchema(spec *flow.Spec, cfg flow.Config, id string, inputs []string, schemas map[string]*arrow.Schema) (*arrow.Schema, error) {
	if spec.Schema == nil {
		return nil, nil
	}
	ins := make([]*arrow.Schema, len(inputs))
	for i, in := range inputs {
		s, ok := schemas[in]
		if !ok {
			stage, port, _ := strings.Cut(in, ".")
			if _, known := schemas[stage]; known && port == flow.PortErrors {
				s, ok = flow.ErrorSchema, true
			}
		}
		if !ok {
			return nil, nil
		}
		ins[i] = s
	}
	return spec.Schema(cfg, flow.BuildEnv{StageID: id, BatchSize: flow.DefaultBatchSize}, ins)
}

func (b *Builder) askParams(spec *flow.Spec, id string, inputs []string, schemas map[string]*arrow.Schema) ([]*Value, *arrow.Schema, error) {
	vals := map[string]*Value{}
	var schema *arrow.Schema
	for i := range spec.Params {
		p := &spec.Params[i]
		if !p.Required {
			continue
		}
		v, err := b.askParam(spec, p, nil, "")
		if err != nil {
			return nil, nil, err
		}
		vals[p.Name] = v
	}
	var opts []Option
	for i := range spec.Params {
		if p := &spec.Params[i]; !p.Required {
			opts = append(opts, Option{Label: paramLabel(p), Value: p.Name})
		}
	}
	if len(opts) > 0 {
		chosen, err := b.P.MultiSelect(MultiSelectQuestion{
			Title: "Optional parameters to set",
			Help:  "The others keep their defaults.",
			// Every option starts unchosen.
			Options: opts,
		})
		if err != nil {
			return nil, nil, err
		}
		for _, name := range chosen {
			p := spec.Param(name)
			if p == nil {
				continue
			}
			v, err := b.askParam(spec, p, nil, "")
			if err != nil {
				return nil, nil, err
			}
			if v != nil {
				vals[p.Name] = v
			}
		}
	}
	for round := 0; ; round++ {
		raw := map[string]any{}
		for k, v := range vals {
			raw[k] = v.Go
		}
		cfg, errs := flow.CheckConfig(spec, raw)
		if len(errs) == 0 {
			s, err := deriveSchema(spec, cfg, id, inputs, schemas)
			var pe *flow.ParamError
			switch {
			case err == nil:
				schema = s
			case errors.As(err, &pe):
				errs = flow.ConfigErrors{{Key: pe.Key, Message: pe.Err.Error()}}
			default:
				b.P.Note("The stage could not be checked against its data", err.Error())
			}
		}
		if len(errs) == 0 {
			break
		}
		if round == maxFixRounds {
			return nil, nil, fmt.Errorf("%s: %w", spec.Name, errs)
		}
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = e.Error()
		}
		b.P.Note("The parameters do not fit together yet", strings.Join(lines, "\n"))
		def := ""
		all := make([]Option, len(spec.Params))
		for i := range spec.Params {
			p := &spec.Params[i]
			label := paramLabel(p)
			if v := vals[p.Name]; v != nil {
				label = fmt.Sprintf("%s = %s", p.Name, v.TOML)
			}
			all[i] = Option{Label: label, Value: p.Name}
			if def == "" && keyOf(errs[0].Key, p.Name) {
				def = p.Name
			}
		}
		name, err := b.P.Select(SelectQuestion{Title: "Which parameter to set or change?",
			Help: "Set or change one; the parameters are checked together again after it.", Options: all, Default: def})
		if err != nil {
			return nil, nil, err
		}
		p := spec.Param(name)
		if p == nil {
			continue
		}
		problem := ""
		for _, e := range errs {
			if keyOf(e.Key, p.Name) {
				problem = e.Message
				break
			}
		}
		v, err := b.askParam(spec, p, vals[p.Name], problem)
		if err != nil {
			return nil, nil, err
		}
		if v == nil {
			delete(vals, p.Name)
		} else {
			vals[p.Name] = v
		}
	}
	var out []*Value
	for _, p := range spec.Params {
		if v := vals[p.Name]; v != nil {
			out = append(out, v)
		}
	}
	return out, schema, nil
}

// keyOf reports whether a problem's key is about parameter name (or a part
// of it: "columns.total" is about columns).
func keyOf(key, name string) bool {
	return key == name || strings.HasPrefix(key, name+".")
}

// paramLabel is a parameter's one-line description in lists.
func paramLabel(p *flow.Param) string {
	s := fmt.Sprintf("%s (%s", p.Name, p.Type)
	if p.Default != nil {
		s += ", default " + FormatTOML(flow.DefaultText(p.Default))
	}
	s += ")"
	if d := firstSentence(p.Doc); d != "" {
		s += "  " + d
	}
	return s
}

func firstSentence(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\n", " "))
	for from := 0; ; {
		i := strings.Index(s[from:], ". ")
		if i < 0 {
			break
		}
		i += from
		if strings.HasSuffix(s[:i], "e.g") || strings.HasSuffix(s[:i], "i.e") {
			from = i + 2
			continue
		}
		s = s[:i+1]
		break
	}
	if len(s) > 90 {
		s = s[:87] + "..."
	}
	return s
}

// paramHelp describes a parameter in full for its question.
func paramHelp(p *flow.Param, problem string) string {
	var lines []string
	if problem != "" {
		lines = append(lines, "Problem: "+problem)
	}
	if p.Doc != "" {
		lines = append(lines, strings.TrimSpace(p.Doc))
	}
	facts := []string{"type " + string(p.Type)}
	if p.Required {
		facts = append(facts, "required")
	} else if p.Default != nil {
		facts = append(facts, "default "+FormatTOML(flow.DefaultText(p.Default)))
	}
	if len(p.Allowed) > 0 {
		facts = append(facts, "one of "+strings.Join(p.Allowed, ", "))
	}
	if p.Min != nil {
		facts = append(facts, fmt.Sprintf("at least %v", *p.Min))
	}
	if p.Max != nil {
		facts = append(facts, fmt.Sprintf("at most %v", *p.Max))
	}
	lines = append(lines, strings.Join(facts, "; "))
	if hint := typeHint[p.Type]; hint != "" {
		lines = append(lines, hint)
	}
	switch {
	case p.Required:
	case p.Default != nil:
		lines = append(lines, "Leave it empty to keep the default.")
	default:
		lines = append(lines, "Leave it empty to leave it unset.")
	}
	return strings.Join(lines, "\n")
}

var typeHint = map[flow.ParamType]string{
	flow.TypeString:       `Text as is; in double quotes for escapes ("\t").`,
	flow.TypeDuration:     "A duration: 500ms, 5s, 1h, 2d.",
	flow.TypeList:         `A TOML list ["a", "b"], or words separated by commas.`,
	flow.TypeTable:        `A TOML inline table: {name = "str", amount = "float"}.`,
	flow.TypeBoolOrList:   "true, false, or a TOML list.",
	flow.TypeStringOrList: `Text, or a list: words separated by commas, or a TOML list ["a", "b"].`,
	flow.TypeAny:          `A TOML value (100, "US", [1, 2]); other text is taken as a string.`,
}

// askParam asks for one parameter, offering cur. It returns nil when an
// optional parameter is left unset.
func (b *Builder) askParam(spec *flow.Spec, p *flow.Param, cur *Value, problem string) (*Value, error) {
	title := p.Name
	help := paramHelp(p, problem)
	switch {
	case p.Type == flow.TypeBool:
		def, _ := p.Default.(bool)
		if cur != nil {
			def, _ = cur.Go.(bool)
		}
		ans, err := b.P.Confirm(ConfirmQuestion{Title: title + "?", Help: help, Default: def})
		if err != nil {
			return nil, err
		}
		return &Value{Key: p.Name, TOML: FormatTOML(ans), Go: ans}, nil
	case len(p.Allowed) > 0 && p.Type == flow.TypeString:
		opts := make([]Option, len(p.Allowed))
		for i, a := range p.Allowed {
			label := a
			if p.Default == a {
				label += "  (default)"
			}
			opts[i] = Option{Label: label, Value: a}
		}
		def, _ := p.Default.(string)
		if cur != nil {
			def, _ = cur.Go.(string)
		}
		ans, err := b.P.Select(SelectQuestion{Title: title, Help: help, Options: opts, Default: def})
		if err != nil {
			return nil, err
		}
		return &Value{Key: p.Name, TOML: FormatTOML(ans), Go: ans}, nil
	case len(p.Allowed) > 0 && p.Type == flow.TypeStringOrList:
		opts := make([]Option, len(p.Allowed))
		for i, a := range p.Allowed {
			opts[i] = Option{Label: a, Value: a}
		}
		var defs []string
		if cur != nil {
			defs = stringList(cur.Go)
		}
		ans, err := b.P.MultiSelect(MultiSelectQuestion{Title: title, Help: help, Options: opts, Defaults: defs,
			Validate: func(s []string) error {
				if p.Required && len(s) == 0 {
					return errors.New("choose at least one")
				}
				return nil
			}})
		if err != nil || len(ans) == 0 {
			return nil, err
		}
		l := make([]any, len(ans))
		for i, a := range ans {
			l[i] = a
		}
		return &Value{Key: p.Name, TOML: FormatTOML(l), Go: l}, nil
	}
	def, placeholder := "", ""
	if cur != nil {
		def = cur.Text
	}
	if p.Default != nil {
		placeholder = fmt.Sprint(flow.DefaultText(p.Default))
		if p.Type != flow.TypeString && p.Type != flow.TypeDuration {
			placeholder = FormatTOML(flow.DefaultText(p.Default))
		}
	}
	validate := func(s string) error {
		v, err := ParseParam(p, s)
		if err != nil {
			return err
		}
		if v == nil {
			if p.Required {
				return fmt.Errorf("%s is required", p.Name)
			}
			return nil
		}
		return CheckParam(spec, p.Name, v.Go)
	}
	ans, err := b.P.Input(InputQuestion{Title: title, Help: help, Default: def, Placeholder: placeholder, Validate: validate})
	if err != nil {
		return nil, err
	}
	if err := validate(ans); err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	v, _ := ParseParam(p, ans)
	if v != nil {
		v.Text = ans
	}
	return v, nil
}

func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}
