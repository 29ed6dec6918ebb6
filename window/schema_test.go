package window

import (
	"errors"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

var inSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: batch.Timestamp},
	{Name: "country", Type: arrow.BinaryTypes.String},
	{Name: "amount", Type: arrow.PrimitiveTypes.Float64},
}, nil)

func schemaFor(t *testing.T, spec *flow.Spec, raw map[string]any, in *arrow.Schema) (*arrow.Schema, error) {
	t.Helper()
	cfg, errs := flow.CheckConfig(spec, raw)
	if len(errs) > 0 {
		return nil, errs
	}
	return spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{in})
}

func TestSchema(t *testing.T) {
	aggs := []any{map[string]any{"operation": "count"}, map[string]any{"column": "amount", "operation": "sum"}}
	out, err := schemaFor(t, ApplySpec(), map[string]any{"size": "1m", "time_column": "ts", "group_by": "country", "aggregations": aggs}, inSchema)
	if err != nil {
		t.Fatal(err)
	}
	if got := schemaNames(out); !slices.Equal(got, []string{"window_start", "window_end", "country", "count", "amount_sum"}) {
		t.Errorf("columns %v", got)
	}
	out, err = schemaFor(t, ApplySpec(), map[string]any{"size": "1m", "time_column": "ts"}, inSchema)
	if err != nil || !slices.Equal(schemaNames(out), []string{"ts", "country", "amount", "window_start", "window_end"}) {
		t.Errorf("rows mode: %v %v", out, err)
	}
	for key, raw := range map[string]map[string]any{
		"time_column":  {"size": "1m", "time_column": "tss"},
		"group_by":     {"size": "1m", "time_column": "ts", "group_by": "contry", "aggregations": aggs},
		"aggregations": {"size": "1m", "time_column": "ts", "aggregations": []any{map[string]any{"column": "amout", "operation": "sum"}}},
	} {
		_, err := schemaFor(t, ApplySpec(), raw, inSchema)
		var pe *flow.ParamError
		var ue *operators.UnknownColumnError
		if !errors.As(err, &pe) || pe.Key != key || !errors.As(err, &ue) || ue.Suggestion == "" {
			t.Errorf("%s: %v", key, err)
		}
	}
	if _, err := schemaFor(t, ApplySpec(), map[string]any{"size": "1m", "time_column": "country"}, inSchema); !errors.Is(err, operators.ErrTypeMismatch) {
		t.Errorf("string time column: %v", err)
	}
	if _, err := schemaFor(t, StreamSpec(), map[string]any{"operation": "sum", "column": "amount"}, inSchema); err == nil {
		t.Error("aggregate.stream without window columns")
	}
	uses := ApplySpec().Uses(flow.Config{"size": "1m", "time_column": "ts", "group_by": "country", "aggregations": aggs}, nil)
	if !slices.Equal(uses, []string{"ts", "country", "amount"}) {
		t.Errorf("uses %v", uses)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, raw := range []map[string]any{
		{"type": "sliding", "size": "1m"},                // no slide
		{"type": "sliding", "size": "1m", "slide": "2m"}, // slide > size
		{"type": "session", "time_column": "ts"},         // no gap
		{"type": "count"},                                // no size
		{"type": "tumbling", "size": "1m", "gap": "1m"},  // gap on tumbling
		{"type": "tumbling", "size": "1m", "aggregations": []any{map[string]any{"operation": "nope"}}},
	} {
		if _, errs := flow.CheckConfig(ApplySpec(), raw); len(errs) == 0 {
			t.Errorf("%v: no error", raw)
		}
	}
}
