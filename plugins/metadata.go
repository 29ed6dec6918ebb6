package plugins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/conveyor-etl/conveyor/flow"
)

// declaration is a plugin's declaration as read from the library.
type declaration struct {
	APIVersion  int
	Name        string
	Version     string
	Description string
	// Specs holds each stage's spec_json, in declaration order.
	Specs []string
}

var stageNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// paramTypes are the parameter types a plugin may declare.
var paramTypes = func() map[string]flow.ParamType {
	m := map[string]flow.ParamType{}
	for _, t := range []flow.ParamType{flow.TypeString, flow.TypeInt, flow.TypeFloat, flow.TypeBool, flow.TypeList,
		flow.TypeTable, flow.TypeDuration, flow.TypeAny, flow.TypeBoolOrList, flow.TypeStringOrList} {
		m[string(t)] = t
	}
	return m
}()

// parseDeclaration checks a declaration and decodes its stages' metadata.
// Errors wrap ErrAPIVersion or ErrMetadata and name the file.
func parseDeclaration(path string, d declaration) (Info, error) {
	info := Info{Path: path, Name: d.Name, Version: d.Version, Description: d.Description, APIVersion: d.APIVersion}
	if d.APIVersion != APIVersion {
		return info, fmt.Errorf("plugin %s: %w: it declares API version %d, this Conveyor implements version %d (rebuild it against this Conveyor's conveyor_plugin.h)",
			path, ErrAPIVersion, d.APIVersion, APIVersion)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("plugin %s: %w: %s", path, ErrMetadata, fmt.Sprintf(format, args...))
	}
	if !stageNameRE.MatchString(d.Name) {
		return info, bad("plugin name %q must be lower case letters, digits and underscores", d.Name)
	}
	if len(d.Specs) == 0 {
		return info, bad("it declares no stage")
	}
	seen := map[string]bool{}
	for i, js := range d.Specs {
		var s StageInfo
		dec := json.NewDecoder(bytes.NewReader([]byte(js)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return info, bad("stage %d: spec_json is not valid: %v", i, err)
		}
		where := fmt.Sprintf("stage %d", i)
		if s.Name != "" {
			where = fmt.Sprintf("stage %q", s.Name)
		}
		if err := checkStage(&s); err != nil {
			return info, bad("%s: %v", where, err)
		}
		if seen[s.Name] {
			return info, bad("%s is declared twice", where)
		}
		seen[s.Name] = true
		info.Stages = append(info.Stages, s)
	}
	return info, nil
}

// checkStage applies the registry's documentation rules to a stage.
func checkStage(s *StageInfo) error {
	if !stageNameRE.MatchString(s.Name) {
		return fmt.Errorf("name %q must be lower case words separated by dots (e.g. \"geo.lookup\")", s.Name)
	}
	if _, ok := kindOf(s.Kind); !ok {
		return fmt.Errorf("kind %q must be source, transform or sink", s.Kind)
	}
	if s.Stateful && s.Kind != "transform" {
		return fmt.Errorf("only a transform may be stateful")
	}
	if s.Unbounded && s.Kind != "source" {
		return fmt.Errorf("only a source may be unbounded")
	}
	if strings.TrimSpace(s.Summary) == "" {
		return fmt.Errorf("no summary")
	}
	if strings.TrimSpace(s.Description) == "" {
		return fmt.Errorf("no description")
	}
	names := map[string]bool{}
	for _, p := range s.Params {
		if p.Name == "" {
			return fmt.Errorf("a parameter has no name")
		}
		for _, c := range flow.CommonParams {
			if p.Name == c.Name {
				return fmt.Errorf("parameter %q is reserved (every stage has it)", p.Name)
			}
		}
		if names[p.Name] {
			return fmt.Errorf("parameter %q is declared twice", p.Name)
		}
		names[p.Name] = true
		if _, ok := paramTypes[p.Type]; !ok {
			return fmt.Errorf("parameter %q: type %q is not one of str, int, float, bool, list, table, dur, any, bool|list, str|list", p.Name, p.Type)
		}
		if strings.TrimSpace(p.Doc) == "" {
			return fmt.Errorf("parameter %q has no doc", p.Name)
		}
	}
	for _, ex := range s.Examples {
		if ex.Title == "" {
			return fmt.Errorf("an example has no title")
		}
	}
	return nil
}

func kindOf(s string) (flow.Kind, bool) {
	switch s {
	case "source":
		return flow.KindSource, true
	case "transform":
		return flow.KindTransform, true
	case "sink":
		return flow.KindSink, true
	}
	return 0, false
}

// baseSpec is the flow.Spec of a stage without its constructor.
func baseSpec(p *Info, s *StageInfo) *flow.Spec {
	kind, _ := kindOf(s.Kind)
	spec := &flow.Spec{
		Name:        s.Name,
		Kind:        kind,
		Summary:     s.Summary,
		Description: s.Description + fmt.Sprintf("\n\nFrom the native plugin %s %s (%s).", p.Name, p.Version, filepath.Base(p.Path)),
		Tags:        append([]string{"plugin"}, s.Tags...),
	}
	if kind != flow.KindSource {
		spec.MaxInputs = 1
	}
	if s.Unbounded {
		spec.Unbounded = func(flow.Config) bool { return true }
	}
	for _, pi := range s.Params {
		spec.Params = append(spec.Params, flow.Param{
			Name: pi.Name, Type: paramTypes[pi.Type], Required: pi.Required, Default: pi.Default,
			Allowed: pi.Allowed, Min: pi.Min, Max: pi.Max, Doc: pi.Doc,
		})
	}
	for _, ex := range s.Examples {
		spec.Examples = append(spec.Examples, flow.Example{
			Title: ex.Title, Config: ex.Config, Input: ex.Input, Output: ex.Output,
			Files: ex.Files, WantFiles: ex.WantFiles,
		})
	}
	return spec
}

// configJSON renders a validated config for a plugin's create: the
// parameters the plugin declared (not on_error), durations in seconds.
func configJSON(cfg flow.Config) (string, error) {
	out := map[string]any{}
	for k, v := range cfg {
		if strings.Contains(k, "\x00") {
			continue
		}
		skip := false
		for _, c := range flow.CommonParams {
			skip = skip || k == c.Name
		}
		if skip {
			continue
		}
		out[k] = jsonValue(v)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case interface{ Seconds() float64 }:
		return x.Seconds()
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = jsonValue(e)
		}
		return l
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	}
	return v
}

// envJSON renders where a stage instance runs.
func envJSON(env flow.BuildEnv) string {
	b, _ := json.Marshal(map[string]any{
		"stage_id": env.StageID, "pipeline": env.Pipeline, "base_dir": env.BaseDir, "batch_size": env.BatchSize,
	})
	return string(b)
}
