package operators

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
)

// Sentinel errors. Errors returned by this package wrap one of them with %w;
// test with errors.Is.
var (
	// ErrUnknownColumn is wrapped by *UnknownColumnError: a configured
	// column does not exist in the input schema.
	ErrUnknownColumn = errors.New("unknown column")
	// ErrTypeMismatch means a configured constant or operator cannot apply
	// to a column's type (e.g. a number compared with a string column,
	// `contains` on an integer column, arithmetic on a string column).
	ErrTypeMismatch = errors.New("type mismatch")
	// ErrUnsupportedType means the operator has no kernel for a column's
	// Arrow type.
	ErrUnsupportedType = errors.New("unsupported column type")
	// ErrInvalidExpression means map.apply's expression does not parse.
	ErrInvalidExpression = errors.New("invalid expression")
	// ErrDuplicateColumn means an operator would produce two columns with
	// the same name (e.g. a rename onto an existing column).
	ErrDuplicateColumn = errors.New("duplicate column")
)

// UnknownColumnError reports a column name that is not in the input
// schema, with the nearest existing name when one is close enough.
type UnknownColumnError struct {
	// Stage is the stage function ("filter.apply").
	Stage string
	// Column is the name as configured.
	Column string
	// Suggestion is the closest existing column, or "".
	Suggestion string
	// Available lists the schema's columns in order.
	Available []string
}

func (e *UnknownColumnError) Error() string {
	msg := fmt.Sprintf("%s: %v %q", e.Stage, ErrUnknownColumn, e.Column)
	if e.Suggestion != "" {
		return msg + fmt.Sprintf(" (did you mean %q?)", e.Suggestion)
	}
	return msg + fmt.Sprintf(" (columns: %v)", e.Available)
}

// Unwrap returns ErrUnknownColumn.
func (e *UnknownColumnError) Unwrap() error { return ErrUnknownColumn }

// columnIndex returns the index of the named column in schema, or an
// *UnknownColumnError. When several columns share the name, the first wins.
func columnIndex(stage string, schema *arrow.Schema, name string) (int, error) {
	if idx := schema.FieldIndices(name); len(idx) > 0 {
		return idx[0], nil
	}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	return -1, &UnknownColumnError{Stage: stage, Column: name, Suggestion: flow.Nearest(name, names), Available: names}
}
