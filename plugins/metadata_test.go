package plugins

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/conveyor-etl/conveyor/flow"
)

const goodStage = `{"name": "x.y", "kind": "transform", "summary": "S.", "description": "D.",
 "params": [{"name": "n", "type": "int", "default": 2, "min": 1, "doc": "N."},
            {"name": "wait", "type": "dur", "doc": "W."}]}`

func TestParseDeclaration(t *testing.T) {
	cases := []struct {
		name string
		d    declaration
		want string // "" = accepted
	}{
		{"good", declaration{APIVersion: 1, Name: "x", Specs: []string{goodStage}}, ""},
		{"version", declaration{APIVersion: 2, Name: "x", Specs: []string{goodStage}}, "API version 2"},
		{"no stage", declaration{APIVersion: 1, Name: "x"}, "declares no stage"},
		{"plugin name", declaration{APIVersion: 1, Name: "X Y", Specs: []string{goodStage}}, `plugin name "X Y"`},
		{"not json", declaration{APIVersion: 1, Name: "x", Specs: []string{`{"name":`}}, "stage 0: spec_json is not valid"},
		{"unknown key", declaration{APIVersion: 1, Name: "x", Specs: []string{`{"name": "x.y", "knd": "sink"}`}}, `unknown field "knd"`},
		{"kind", declaration{APIVersion: 1, Name: "x", Specs: []string{strings.Replace(goodStage, `"transform"`, `"filter"`, 1)}}, `kind "filter"`},
		{"summary", declaration{APIVersion: 1, Name: "x", Specs: []string{strings.Replace(goodStage, `"S."`, `""`, 1)}}, `stage "x.y": no summary`},
		{"param doc", declaration{APIVersion: 1, Name: "x", Specs: []string{strings.Replace(goodStage, `"N."`, `""`, 1)}}, `parameter "n" has no doc`},
		{"param type", declaration{APIVersion: 1, Name: "x", Specs: []string{strings.Replace(goodStage, `"int"`, `"integer"`, 1)}}, `type "integer"`},
		{"reserved", declaration{APIVersion: 1, Name: "x", Specs: []string{strings.Replace(goodStage, `"name": "n"`, `"name": "on_error"`, 1)}}, "reserved"},
		{"stateful source", declaration{APIVersion: 1, Name: "x", Specs: []string{strings.Replace(goodStage, `"transform",`, `"source", "stateful": true,`, 1)}}, "only a transform may be stateful"},
		{"twice", declaration{APIVersion: 1, Name: "x", Specs: []string{goodStage, goodStage}}, "declared twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info, err := parseDeclaration("lib.so", c.d)
			if c.want == "" {
				if err != nil || len(info.Stages) != 1 {
					t.Fatalf("err = %v, info = %+v", err, info)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "plugin lib.so: ") {
				t.Fatalf("err = %v, want one naming lib.so and saying %q", err, c.want)
			}
			if !errors.Is(err, ErrMetadata) && !errors.Is(err, ErrAPIVersion) {
				t.Errorf("err = %v wraps no sentinel", err)
			}
		})
	}
}

// The spec validates a TOML config the way a built-in's does, and the
// plugin receives the validated values as JSON (durations in seconds,
// defaults filled in, on_error left out).
func TestSpecConfig(t *testing.T) {
	info, err := parseDeclaration("lib.so", declaration{APIVersion: 1, Name: "x", Specs: []string{goodStage}})
	if err != nil {
		t.Fatal(err)
	}
	spec := baseSpec(&info, &info.Stages[0])
	if _, errs := flow.CheckConfig(spec, map[string]any{"n": int64(0)}); len(errs) == 0 {
		t.Error("n = 0 is below min and was accepted")
	}
	if _, errs := flow.CheckConfig(spec, map[string]any{"m": int64(3)}); len(errs) == 0 || !strings.Contains(errs.Error(), `did you mean "n"`) {
		t.Errorf("unknown key: %v", errs)
	}
	cfg, errs := flow.CheckConfig(spec, map[string]any{"wait": "1500ms"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cfg["on_error"] = "retry"
	js, err := configJSON(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if js != `{"n":2,"wait":1.5}` {
		t.Errorf("config JSON = %s", js)
	}
	if cfg.Duration("wait") != 1500*time.Millisecond {
		t.Errorf("wait = %v", cfg["wait"])
	}
}
