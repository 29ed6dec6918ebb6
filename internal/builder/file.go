package builder

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

// Starter returns a starter pipeline named name: a CSV source, a filter
// and a JSON lines sink, with comments saying what to change. It
// validates as it is.
func Starter(name string) string {
	if name == "" {
		name = "starter"
	}
	return fmt.Sprintf(`# A starter pipeline written by `+"`conveyor stage new`"+`: a source, a transform and a sink.
# Change the paths and the condition, add stages with `+"`conveyor stage add FILE`"+`,
# check it with `+"`conveyor validate FILE`"+` and run it with `+"`conveyor run FILE`"+`.
# `+"`conveyor list`"+` lists every stage; `+"`conveyor info NAME`"+` describes one.

[pipeline]
name = %s
version = "0.1.0"

[global]
log_level = "info"

# Source: read a CSV file (a glob reads several; .gz and .zst are decompressed).
[[stages]]
id = "read"
function = "csv.read"
[stages.config]
path = "data/input.csv"

# Transform: keep the rows where the expression holds.
[[stages]]
id = "keep"
function = "filter.apply"
inputs = ["read"]
[stages.config]
expr = "amount >= 100"

# Sink: write the rows as JSON lines (atomically: no partial file on failure).
[[stages]]
id = "write"
function = "json.write"
inputs = ["keep"]
[stages.config]
path = "out/result.jsonl"
format = "jsonl"
`, quote(name))
}

// Header returns the [pipeline] and [global] tables of a new pipeline.
func Header(name string) string {
	return fmt.Sprintf(`# Written by `+"`conveyor stage new -i`"+`. Check it with `+"`conveyor validate FILE`"+`,
# run it with `+"`conveyor run FILE`"+`, add stages with `+"`conveyor stage add FILE`"+`.

[pipeline]
name = %s
version = "0.1.0"

[global]
log_level = "info"
`, quote(name))
}

// Pipeline asks for a whole pipeline: its name, a source, then transforms
// and sinks until the person is done (each stage reading the previous one
// by default). It returns the file's text, validated against the registry.
func (b *Builder) Pipeline(defaultName string) (string, error) {
	name, err := b.P.Input(InputQuestion{Title: "Pipeline name", Default: defaultName,
		Validate: func(s string) error {
			if strings.TrimSpace(s) == "" {
				return errors.New("the pipeline needs a name")
			}
			return nil
		}})
	if err != nil {
		return "", err
	}
	text := Header(strings.TrimSpace(name))
	c := Context{InFile: true, Kind: flow.KindSource, Schemas: map[string]*arrow.Schema{}}
	for {
		st, err := b.Stage(c)
		if err != nil {
			return "", err
		}
		text += "\n" + st.TOML()
		c.Existing = append(c.Existing, flow.StageDecl{ID: st.ID, Function: st.Function, Inputs: st.Inputs, Index: len(c.Existing)})
		if st.Schema != nil {
			c.Schemas[st.ID] = st.Schema
		}
		spec, _ := b.Reg.Lookup(st.Function)
		if spec != nil && spec.Kind != flow.KindSink {
			c.Inputs = []string{st.ID}
		}
		next := "transform"
		if spec != nil && spec.Kind != flow.KindSource {
			next = "sink"
		}
		if spec != nil && spec.Kind == flow.KindSink {
			next = "done"
		}
		ans, err := b.P.Select(SelectQuestion{Title: "Next", Default: next, Options: []Option{
			{Label: "add a transform", Value: "transform"},
			{Label: "add a sink", Value: "sink"},
			{Label: "add a source", Value: "source"},
			{Label: "done: write the pipeline", Value: "done"},
		}})
		if err != nil {
			return "", err
		}
		switch ans {
		case "done":
			if err := Check("pipeline", []byte(text), b.Reg); err != nil {
				return text, err
			}
			return text, nil
		case "source":
			c.Kind = flow.KindSource
		case "sink":
			c.Kind = flow.KindSink
		default:
			c.Kind = flow.KindTransform
		}
	}
}

// Check parses and validates a pipeline's text as the validator does.
func Check(path string, src []byte, reg *flow.Registry) error {
	f, err := flow.Parse(path, src)
	if err != nil {
		return err
	}
	_, err = flow.Validate(f, reg)
	return err
}

// FileContext reads a pipeline file to add a stage to: the stages it has
// are the possible inputs, and the last stage that is not a sink is the
// default input.
func FileContext(path string, reg *flow.Registry) (Context, []byte, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Context{}, nil, err
	}
	f, err := flow.Parse(path, src)
	if err != nil {
		return Context{}, nil, err
	}
	c := Context{InFile: true, Existing: f.Stages}
	if g, err := flow.Validate(f, reg); err == nil {
		// Where the sources' schemas can be read now, new stages are
		// checked against them; problems of the file itself are left to
		// the validation after the append.
		c.Schemas, _ = g.InferSchemas(flow.BuildEnv{BatchSize: f.Global.BatchSize})
	}
	for i := len(f.Stages) - 1; i >= 0; i-- {
		d := f.Stages[i]
		if s, ok := reg.LookupFor(d.Function, len(d.Inputs) > 0); ok && s.Kind != flow.KindSink && d.ID != "" {
			c.Inputs = []string{d.ID}
			break
		}
	}
	return c, src, nil
}

// Append adds a stage block to the pipeline file at path, whose text was
// src, after validating the whole result; an invalid result is not
// written. The file is replaced atomically and keeps its permissions.
func Append(path string, src []byte, block string, reg *flow.Registry) error {
	var out bytes.Buffer
	out.Write(src)
	if len(src) > 0 && !bytes.HasSuffix(src, []byte("\n")) {
		out.WriteByte('\n')
	}
	if len(src) > 0 {
		out.WriteByte('\n')
	}
	out.WriteString(block)
	if err := Check(path, out.Bytes(), reg); err != nil {
		return fmt.Errorf("the pipeline would not be valid with this stage, so %s was left as it was:\n%w", path, err)
	}
	return WriteFile(path, out.Bytes())
}

// WriteFile writes data to path through a temporary file renamed over it,
// keeping the permissions of a file already there.
func WriteFile(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
