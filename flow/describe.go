package flow

import (
	"fmt"
	"time"
)

// ParamDoc is the JSON shape of a parameter (for `conveyor info --format
// json` and tools).
type ParamDoc struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Required bool     `json:"required"`
	Default  any      `json:"default,omitempty"`
	Allowed  []string `json:"allowed,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Aliases  []string `json:"aliases,omitempty"`
	Doc      string   `json:"doc,omitempty"`
}

// ExampleDoc is the JSON shape of an example.
type ExampleDoc struct {
	Title  string `json:"title"`
	Config string `json:"config"`
	Input  string `json:"input,omitempty"`
	Output string `json:"output,omitempty"`
}

// SpecDoc is the JSON shape of a stage spec.
type SpecDoc struct {
	Name        string       `json:"name"`
	Kind        string       `json:"kind"`
	Summary     string       `json:"summary"`
	Description string       `json:"description,omitempty"`
	Tags        []string     `json:"tags,omitempty"`
	Aliases     []string     `json:"aliases,omitempty"`
	Ports       []string     `json:"ports"`
	Params      []ParamDoc   `json:"params"`
	Examples    []ExampleDoc `json:"examples,omitempty"`
}

// Describe returns the spec's documentation form.
func (s *Spec) Describe() SpecDoc {
	d := SpecDoc{Name: s.Name, Kind: s.Kind.String(), Summary: s.Summary, Description: s.Description,
		Tags: s.Tags, Aliases: s.Aliases, Ports: append([]string{PortErrors}, s.Ports...)}
	for _, p := range s.Params {
		d.Params = append(d.Params, ParamDoc{Name: p.Name, Type: string(p.Type), Required: p.Required,
			Default: DefaultText(p.Default), Allowed: p.Allowed, Min: p.Min, Max: p.Max, Aliases: p.Aliases, Doc: p.Doc})
	}
	for _, e := range s.Examples {
		d.Examples = append(d.Examples, ExampleDoc{Title: e.Title, Config: e.Config, Input: e.Input, Output: e.Output})
	}
	return d
}

// DefaultText renders a default for display (durations as "5s"); nil stays
// nil.
func DefaultText(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case time.Duration:
		return x.String()
	case []any, []string, map[string]any, string, bool, int, int64, float64:
		return x
	}
	return fmt.Sprint(v)
}
