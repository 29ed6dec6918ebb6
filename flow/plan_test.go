package flow

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// planRegistry has a source, a "pick" transform that reads one column and
// passes the others through, a "keep" transform that outputs only its
// column, and a sink.
func planRegistry() *Registry {
	r := NewRegistry()
	src := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.BinaryTypes.String}, {Name: "c", Type: arrow.PrimitiveTypes.Float64}}, nil)
	r.Register(&Spec{Name: "t.src", Kind: KindSource, Summary: "s",
		New:    func(Config, BuildEnv) (any, error) { return genOp{}, nil },
		Schema: func(Config, BuildEnv, []*arrow.Schema) (*arrow.Schema, error) { return src, nil }})
	col := []Param{{Name: "column", Type: TypeString, Required: true}}
	find := func(cfg Config, in *arrow.Schema) error {
		if len(in.FieldIndices(cfg.Str("column"))) == 0 {
			return &ParamError{Key: "column", Err: errors.New("unknown column " + cfg.Str("column"))}
		}
		return nil
	}
	r.Register(&Spec{Name: "t.pick", Kind: KindTransform, Summary: "p", Params: col,
		New: func(Config, BuildEnv) (any, error) { return passOp{}, nil },
		Schema: func(cfg Config, _ BuildEnv, in []*arrow.Schema) (*arrow.Schema, error) {
			return in[0], find(cfg, in[0])
		},
		Uses: func(cfg Config, needed []string) []string {
			if needed == nil {
				return nil
			}
			return append(append([]string{}, needed...), cfg.Str("column"))
		}})
	r.Register(&Spec{Name: "t.keep", Kind: KindTransform, Summary: "k", Params: col,
		New: func(Config, BuildEnv) (any, error) { return passOp{}, nil },
		Uses: func(cfg Config, needed []string) []string {
			return []string{cfg.Str("column")}
		}})
	r.Register(&Spec{Name: "t.sink", Kind: KindSink, Summary: "w",
		New: func(Config, BuildEnv) (any, error) { return collectSink{}, nil }})
	return r
}

func TestProjectionAndSchemas(t *testing.T) {
	cases := []struct {
		name string
		src  string
		want map[string][]string
	}{
		{"through pass-through to a narrowing stage", `
[[stages]]
id = "s"
function = "t.src"
[[stages]]
id = "p"
function = "t.pick"
inputs = ["s"]
config = { column = "c" }
[[stages]]
id = "k"
function = "t.keep"
inputs = ["p"]
config = { column = "a" }
[[stages]]
id = "w"
function = "t.sink"
inputs = ["k"]
`, map[string][]string{"s": {"a", "c"}}},
		{"a fan-out branch needing everything wins", `
[[stages]]
id = "s"
function = "t.src"
[[stages]]
id = "k"
function = "t.keep"
inputs = ["s"]
config = { column = "a" }
[[stages]]
id = "w"
function = "t.sink"
inputs = ["k"]
[[stages]]
id = "all"
function = "t.sink"
inputs = ["s"]
`, map[string][]string{}},
		{"fan-out branches are united", `
[[stages]]
id = "s"
function = "t.src"
[[stages]]
id = "k1"
function = "t.keep"
inputs = ["s"]
config = { column = "b" }
[[stages]]
id = "k2"
function = "t.keep"
inputs = ["s"]
config = { column = "a" }
[[stages]]
id = "w"
function = "t.sink"
inputs = ["k1", "k2"]
`, map[string][]string{"s": {"a", "b"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := Validate(mustParse(t, c.src), planRegistry())
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Projection(); !reflect.DeepEqual(got, c.want) {
				t.Errorf("projection %v, want %v", got, c.want)
			}
		})
	}
	g, err := Validate(mustParse(t, `
[[stages]]
id = "s"
function = "t.src"

[[stages]]
id = "p"
function = "t.pick"
inputs = ["s"]
[stages.config]
column = "zz"

[[stages]]
id = "w"
function = "t.sink"
inputs = ["p"]
`), planRegistry())
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := g.InferSchemas(BuildEnv{})
	var ce ConfigErrors
	if !errors.As(err, &ce) || len(ce) != 1 || ce[0].Line != 11 || ce[0].Key != "config.column" || !strings.Contains(ce[0].Message, "unknown column zz") {
		t.Fatalf("errors %v", err)
	}
	if schemas["s"] == nil || schemas["p"] != nil {
		t.Errorf("schemas %v", schemas)
	}
}
