package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
)

// script answers questions from a list, the way a person would: an empty
// answer takes the default, an answer that fails validation is recorded
// (as the error the person would see) and the next answer is tried.
type script struct {
	t       *testing.T
	answers []string
	asked   []string // titles, in order
	helps   map[string]string
	options map[string][]Option
	// defaults of the multiple choices
	defaults map[string][]string
	refused  []string // validation errors shown
	notes    []string
}

func newScript(t *testing.T, answers ...string) *script {
	return &script{t: t, answers: answers, helps: map[string]string{}, options: map[string][]Option{},
		defaults: map[string][]string{}}
}

func (s *script) next(title string) (string, error) {
	s.asked = append(s.asked, title)
	if len(s.answers) == 0 {
		return "", fmt.Errorf("%w: no scripted answer for %q (asked: %q)", ErrAborted, title, s.asked)
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a, nil
}

func (s *script) Select(q SelectQuestion) (string, error) {
	s.helps[q.Title], s.options[q.Title] = q.Help, q.Options
	for {
		a, err := s.next(q.Title)
		if err != nil {
			return "", err
		}
		if a == "" {
			if q.Default != "" {
				return q.Default, nil
			}
			return q.Options[0].Value, nil
		}
		if slices.ContainsFunc(q.Options, func(o Option) bool { return o.Value == a }) {
			return a, nil
		}
		s.refused = append(s.refused, fmt.Sprintf("%q is not an option of %q", a, q.Title))
	}
}

func (s *script) MultiSelect(q MultiSelectQuestion) ([]string, error) {
	s.helps[q.Title], s.options[q.Title], s.defaults[q.Title] = q.Help, q.Options, q.Defaults
	for {
		a, err := s.next(q.Title)
		if err != nil {
			return nil, err
		}
		var chosen []string
		switch a {
		case "":
			chosen = q.Defaults
		case "-":
		default:
			chosen = splitIDs(a)
		}
		bad := false
		for _, c := range chosen {
			if !slices.ContainsFunc(q.Options, func(o Option) bool { return o.Value == c }) {
				s.refused = append(s.refused, fmt.Sprintf("%q is not an option of %q", c, q.Title))
				bad = true
			}
		}
		if bad {
			continue
		}
		if q.Validate != nil {
			if err := q.Validate(chosen); err != nil {
				s.refused = append(s.refused, err.Error())
				continue
			}
		}
		return inOptionOrder(q.Options, chosen), nil
	}
}

func (s *script) Input(q InputQuestion) (string, error) {
	s.helps[q.Title] = q.Help
	for {
		a, err := s.next(q.Title)
		if err != nil {
			return "", err
		}
		if a == "" {
			a = q.Default
		}
		if q.Validate != nil {
			if err := q.Validate(a); err != nil {
				s.refused = append(s.refused, err.Error())
				continue
			}
		}
		return a, nil
	}
}

func (s *script) Confirm(q ConfirmQuestion) (bool, error) {
	s.helps[q.Title] = q.Help
	a, err := s.next(q.Title)
	if err != nil {
		return false, err
	}
	switch a {
	case "":
		return q.Default, nil
	case "y":
		return true, nil
	case "n":
		return false, nil
	}
	s.t.Fatalf("scripted confirm answer %q: use y, n or empty", a)
	return false, nil
}

func (s *script) Note(title, text string) { s.notes = append(s.notes, title+": "+text) }

func (s *script) done() {
	s.t.Helper()
	if len(s.answers) > 0 {
		s.t.Errorf("answers left unused: %q (asked: %q)", s.answers, s.asked)
	}
}

// mustValidate checks that text (a pipeline, or a source block followed
// by extra) is a valid pipeline.
func mustValidate(t *testing.T, text string) *flow.Graph {
	t.Helper()
	f, err := flow.Parse("built.toml", []byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	g, err := flow.Validate(f, catalog.Registry())
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return g
}

func TestBuildSourceBlock(t *testing.T) {
	reg := catalog.Registry()
	s := newScript(t,
		"source",   // kind
		"csv.read", // function
		"bad id!",  // refused: not a valid id
		"orders",   // id
		"",         // path: required, empty refused
		"data/orders.csv",
		"delimiter,skip_rows,compression,has_headers,schema", // optional parameters, asked in the spec's order
		"n",                                  // has_headers
		";",                                  // delimiter
		"{id = \"int\", amount = \"float\"}", // schema, an inline table
		"abc",                                // skip_rows: not a number, refused
		"-1",                                 // skip_rows: below the minimum, refused
		"2",
		"gzip", // compression: a select among the allowed values
	)
	b := &Builder{Reg: reg, P: s}
	st, err := b.Stage(Context{})
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	want := `[[stages]]
id = "orders"
function = "csv.read"
[stages.config]
path = "data/orders.csv"
has_headers = false
delimiter = ";"
schema = {id = "int", amount = "float"}
skip_rows = 2
compression = "gzip"
`
	if got := st.TOML(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	mustValidate(t, st.TOML())
	// The questions said what each parameter is.
	if h := s.helps["skip_rows"]; !strings.Contains(h, "type int") || !strings.Contains(h, "default 0") || !strings.Contains(h, "at least 0") {
		t.Errorf("skip_rows help lacks type, default or range: %q", h)
	}
	if h := s.helps["compression"]; !strings.Contains(h, "one of auto, none, gzip, zstd") {
		t.Errorf("compression help lacks the allowed values: %q", h)
	}
	if opts := s.options["compression"]; len(opts) != 4 || opts[0].Label != "auto  (default)" {
		t.Errorf("compression options: %+v", opts)
	}
	// Every refusal came from the spec's own checks.
	wantRefused := []string{"use letters, digits", "path is required", "not a whole number", "must be at least 0"}
	if len(s.refused) != len(wantRefused) {
		t.Fatalf("refused %q, want %d refusals", s.refused, len(wantRefused))
	}
	for i, w := range wantRefused {
		if !strings.Contains(s.refused[i], w) {
			t.Errorf("refusal %d = %q, want it to mention %q", i, s.refused[i], w)
		}
	}
	// The function list was the sources only, each with its summary.
	for _, o := range s.options["Which source?"] {
		spec, ok := reg.Lookup(o.Value)
		if !ok || spec.Kind != flow.KindSource || !strings.Contains(o.Label, spec.Summary) {
			t.Errorf("option %+v is not a source with its summary", o)
		}
	}
}

func TestBuildTransformTypedInputs(t *testing.T) {
	s := newScript(t,
		"transform", "groupby.apply",
		"", // id: the suggestion
		"", // inputs: none given, refused (needs at least 1)
		"load",
		`region, product`, // by: a list as words
		`[{column = "amount", operation = "sum", output_column = "total"}]`,
		"-", // no optional parameter
	)
	st, err := (&Builder{Reg: catalog.Registry(), P: s}).Stage(Context{})
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	want := `[[stages]]
id = "groupby"
function = "groupby.apply"
inputs = ["load"]
[stages.config]
by = ["region", "product"]
aggregations = [{column = "amount", operation = "sum", output_column = "total"}]
`
	if got := st.TOML(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if len(s.refused) != 1 || !strings.Contains(s.refused[0], "at least 1 input") {
		t.Fatalf("refused %q", s.refused)
	}
	mustValidate(t, `[[stages]]
id = "load"
function = "stdin.read"
`+"\n"+st.TOML())
}

func TestBuildCrossParameterProblemsAreAskedAgain(t *testing.T) {
	// filter.apply needs expr, or column/operator/value: with nothing set,
	// the builder shows the problem and asks which parameter to set.
	s := newScript(t,
		"transform", "filter.apply", "big", "load",
		"-",    // no optional parameter at first
		"expr", // which parameter to set
		"amount >= 100",
	)
	st, err := (&Builder{Reg: catalog.Registry(), P: s}).Stage(Context{})
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if len(s.notes) != 1 || !strings.Contains(s.notes[0], `key "column": required parameter of filter.apply is missing`) {
		t.Fatalf("notes %q", s.notes)
	}
	if !strings.Contains(st.TOML(), `expr = "amount >= 100"`) {
		t.Fatal(st.TOML())
	}
}

func TestBuildAllowedAndAnyValues(t *testing.T) {
	s := newScript(t,
		"transform", "filter.apply", "", "load",
		"column,operator,value",
		"country",
		"in", // operator: a select
		"US", // value: text taken as a string; operator in needs a list
		"value",
		`["US", "CA"]`,
	)
	st, err := (&Builder{Reg: catalog.Registry(), P: s}).Stage(Context{})
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if len(s.notes) != 1 || !strings.Contains(s.notes[0], `operator "in" needs a list`) {
		t.Fatalf("notes %q", s.notes)
	}
	for _, w := range []string{`column = "country"`, `operator = "in"`, `value = ["US", "CA"]`} {
		if !strings.Contains(st.TOML(), w) {
			t.Errorf("block lacks %s:\n%s", w, st.TOML())
		}
	}
}

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAddToFileChoosesInputsAmongItsStages(t *testing.T) {
	reg := catalog.Registry()
	path := writeTemp(t, "p.toml", Starter("orders"))
	c, src, err := FileContext(path, reg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Inputs, []string{"keep"}) {
		t.Fatalf("default inputs %q, want the last stage that is not a sink", c.Inputs)
	}
	s := newScript(t,
		"sink", "csv.write",
		"read", // refused: taken
		"errors_out",
		"write",       // refused: a sink has no main output
		"keep.errors", // the filter's rejected rows
		"out/rejected.csv",
		"-",
	)
	st, err := (&Builder{Reg: reg, P: s}).Stage(c)
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if len(s.refused) != 2 || !strings.Contains(s.refused[0], "already the id") || !strings.Contains(s.refused[1], `"write" is not an option`) {
		t.Fatalf("refused %q", s.refused)
	}
	if d := s.defaults["Inputs"]; !slices.Equal(d, []string{"keep"}) {
		t.Errorf("inputs offered %q first, want keep", d)
	}
	var values []string
	for _, o := range s.options["Inputs"] {
		values = append(values, o.Value)
	}
	if want := []string{"read", "read.errors", "keep", "keep.errors", "write.errors"}; !slices.Equal(values, want) {
		t.Fatalf("input options %q, want %q", values, want)
	}
	if err := Append(path, src, st.TOML(), reg); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	g := mustValidate(t, string(got))
	if n := g.Node("errors_out"); n == nil || n.Inputs[0].String() != "keep.errors" {
		t.Fatalf("appended stage not in the graph:\n%s", got)
	}
	if !strings.HasPrefix(string(got), string(src)+"\n[[stages]]\nid = \"errors_out\"") {
		t.Fatalf("the file was not kept as it was with the block appended:\n%s", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the file's 0640 kept", fi.Mode().Perm())
	}
}

func TestAppendRefusesAnInvalidResult(t *testing.T) {
	reg := catalog.Registry()
	path := writeTemp(t, "p.toml", Starter("x"))
	before, _ := os.ReadFile(path)
	block := (&Stage{ID: "keep", Function: "limit.apply", Inputs: []string{"read"},
		Params: []*Value{{Key: "n", TOML: "10", Go: int64(10)}}}).TOML()
	err := Append(path, before, block, reg)
	if err == nil || !strings.Contains(err.Error(), "duplicate stage id") || !strings.Contains(err.Error(), "left as it was") {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(before) {
		t.Fatal("the file changed")
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp")); len(m) > 0 {
		t.Fatalf("temporary files left: %q", m)
	}
}

func TestStarterValidates(t *testing.T) {
	g := mustValidate(t, Starter(`my "pipe"`))
	var kinds []string
	for _, n := range g.Nodes {
		kinds = append(kinds, n.Spec.Kind.String())
	}
	if !slices.Equal(kinds, []string{"source", "transform", "sink"}) {
		t.Fatalf("kinds %q", kinds)
	}
	if g.File.Pipeline.Name != `my "pipe"` {
		t.Fatalf("name %q", g.File.Pipeline.Name)
	}
}

func TestInteractivePipeline(t *testing.T) {
	s := newScript(t,
		"", // name: the default
		// source (kind fixed)
		"generate", "", "count,columns", "100", `{n = "seq"}`,
		"", // next: transform (the default after a source)
		"limit.apply", "", "", "5", "-",
		"", // next: sink
		"stdout.write", "", "", "-",
		"", // next: done
	)
	text, err := (&Builder{Reg: catalog.Registry(), P: s}).Pipeline("demo")
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	s.done()
	g := mustValidate(t, text)
	var got []string
	for _, n := range g.Nodes {
		ins := ""
		for _, in := range n.Inputs {
			ins += in.String()
		}
		got = append(got, n.ID+"<"+ins)
	}
	if want := []string{"generate<", "limit<generate", "stdout_write<limit"}; !slices.Equal(got, want) {
		t.Fatalf("stages %q, want %q\n%s", got, want, text)
	}
	if g.File.Pipeline.Name != "demo" {
		t.Fatalf("name %q", g.File.Pipeline.Name)
	}
}

func TestAbortStopsTheBuilder(t *testing.T) {
	s := newScript(t, "source", "csv.read")
	_, err := (&Builder{Reg: catalog.Registry(), P: s}).Stage(Context{})
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseParamAndFormat(t *testing.T) {
	cases := []struct {
		typ  flow.ParamType
		in   string
		toml string
		err  string
	}{
		{flow.TypeString, `a "b" \ c`, `"a \"b\" \\ c"`, ""},
		{flow.TypeString, `"\t"`, `"\t"`, ""},
		{flow.TypeInt, "1_000", "1000", ""},
		{flow.TypeInt, "1.5", "", "not a whole number"},
		{flow.TypeFloat, "2", "2.0", ""},
		{flow.TypeFloat, "1e21", "1e+21", ""},
		{flow.TypeBool, "True", "true", ""},
		{flow.TypeDuration, "1m30s", `"1m30s"`, ""},
		{flow.TypeDuration, "soon", "", "not a duration"},
		{flow.TypeList, "a, b", `["a", "b"]`, ""},
		{flow.TypeList, "[1, 2]", "[1, 2]", ""},
		{flow.TypeList, "[1, ", "", "not a TOML list"},
		{flow.TypeTable, "{a = 1}", "{a = 1}", ""},
		{flow.TypeTable, "a", "", "not a TOML inline table"},
		{flow.TypeAny, "100", "100", ""},
		{flow.TypeAny, "US", `"US"`, ""},
		{flow.TypeStringOrList, "x", `"x"`, ""},
		{flow.TypeStringOrList, "x, y", `["x", "y"]`, ""},
		{flow.TypeStringOrList, `["x", "y"]`, `["x", "y"]`, ""},
		{flow.TypeBoolOrList, "[true, false]", "[true, false]", ""},
	}
	for _, c := range cases {
		v, err := ParseParam(&flow.Param{Name: "k", Type: c.typ}, c.in)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %q: err %v, want %q", c.typ, c.in, err, c.err)
			}
		case err != nil:
			t.Errorf("%s %q: %v", c.typ, c.in, err)
		case v.TOML != c.toml:
			t.Errorf("%s %q: TOML %s, want %s", c.typ, c.in, v.TOML, c.toml)
		default:
			// The TOML text decodes back to the value.
			back, derr := decodeTOML(v.TOML)
			if derr != nil || fmt.Sprint(back) != fmt.Sprint(v.Go) {
				t.Errorf("%s %q: %s decodes to %v (%v), want %v", c.typ, c.in, v.TOML, back, derr, v.Go)
			}
		}
	}
	if v, _ := ParseParam(&flow.Param{Type: flow.TypeString}, "  "); v != nil {
		t.Errorf("blank text gave %+v", v)
	}
	if got := FormatTOML(map[string]any{"b c": "x", "a": int64(1)}); got != `{ a = 1, "b c" = "x" }` {
		t.Errorf("table %s", got)
	}
	if got := quote("\x01é"); got != `"\u0001é"` {
		t.Errorf("quote %s", got)
	}
}

func TestCheckIDAndSuggest(t *testing.T) {
	for _, bad := range []string{"", "1a", "a.b", "a b", "é"} {
		if CheckID(bad, nil) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := CheckID("load-2_x", nil); err != nil {
		t.Error(err)
	}
	if got := SuggestID("filter.apply", []string{"filter", "filter_2"}); got != "filter_3" {
		t.Errorf("suggest %q", got)
	}
	if got := SuggestID("csv.read", nil); got != "csv_read" {
		t.Errorf("suggest %q", got)
	}
}

func TestLinePrompter(t *testing.T) {
	in := strings.NewReader(strings.Join([]string{
		"sink", // no such option
		"9",    // out of range
		"3",    // by number
		"zz, a",
		"a,c",
		"",      // input: the default, refused by validation
		"fine",  //
		"maybe", // confirm: not y/n
		"y",
	}, "\n") + "\n")
	var out strings.Builder
	l := NewLinePrompter(in, &out)
	opts := []Option{{"A", "a"}, {"B", "b"}, {"C", "c"}}
	v, err := l.Select(SelectQuestion{Title: "pick", Options: opts})
	if err != nil || v != "c" {
		t.Fatalf("select %q %v\n%s", v, err, out.String())
	}
	m, err := l.MultiSelect(MultiSelectQuestion{Title: "many", Options: opts})
	if err != nil || !slices.Equal(m, []string{"a", "c"}) {
		t.Fatalf("multi %q %v\n%s", m, err, out.String())
	}
	s, err := l.Input(InputQuestion{Title: "text", Default: "oops", Validate: func(s string) error {
		if s == "oops" {
			return errors.New("not oops")
		}
		return nil
	}})
	if err != nil || s != "fine" {
		t.Fatalf("input %q %v\n%s", s, err, out.String())
	}
	b, err := l.Confirm(ConfirmQuestion{Title: "sure"})
	if err != nil || !b {
		t.Fatalf("confirm %v %v", b, err)
	}
	for _, w := range []string{`"sink" is not one of the choices`, "choose a number from 1 to 3", `"zz" is not one of the choices`, "not oops", "answer y or n"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if _, err := l.Input(InputQuestion{Title: "more"}); !errors.Is(err, ErrAborted) {
		t.Fatalf("end of input: %v", err)
	}
}

func TestStagesAreCheckedAgainstTheirInputsSchemas(t *testing.T) {
	reg := catalog.Registry()
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "orders.csv")
	if err := os.WriteFile(csvPath, []byte("id,amount,country\n1,120.5,US\n2,80,FR\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := writeTemp(t, "p.toml", fmt.Sprintf("[[stages]]\nid = \"load\"\nfunction = \"csv.read\"\n[stages.config]\npath = %s\n", quote(csvPath)))
	c, _, err := FileContext(path, reg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Schemas["load"] == nil {
		t.Fatal("the source's schema was not read")
	}
	s := newScript(t,
		"transform", "filter.apply", "big", "",
		"expr",
		"amout >= 100", // no such column: the validator's own check
		"",             // which parameter: expr, offered first
		"amount >= 100",
	)
	st, err := (&Builder{Reg: reg, P: s}).Stage(c)
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if len(s.notes) != 1 || !strings.Contains(s.notes[0], `key "expr"`) || !strings.Contains(s.notes[0], "amout") {
		t.Fatalf("notes %q", s.notes)
	}
	if st.Schema == nil || st.Schema.NumFields() != 3 {
		t.Fatalf("schema %v", st.Schema)
	}

	// A generated column's expression is checked the same way.
	s = newScript(t, "source", "generate", "gen", "count,columns", "10",
		`{x = "nosuch(seq)"}`, "", `{x = "seq * 2"}`)
	st, err = (&Builder{Reg: reg, P: s}).Stage(Context{})
	if err != nil {
		t.Fatal(err)
	}
	s.done()
	if len(s.notes) != 1 || !strings.Contains(s.notes[0], "nosuch") {
		t.Fatalf("notes %q", s.notes)
	}
	if !strings.Contains(st.TOML(), `columns = {x = "seq * 2"}`) {
		t.Fatal(st.TOML())
	}
}
