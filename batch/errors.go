package batch

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Sentinel errors. Wrap them with %w; test with errors.Is.
var (
	// ErrTypeMismatch is wrapped by every *ValueError: a value does not fit
	// its column's type.
	ErrTypeMismatch = errors.New("value does not fit column type")
	// ErrUnsupportedType is returned for an Arrow type an operation does not
	// handle, and for an unknown type name.
	ErrUnsupportedType = errors.New("unsupported type")
	// ErrSchemaMismatch is returned when a batch does not have the schema an
	// operation expects.
	ErrSchemaMismatch = errors.New("schema mismatch")
)

// ValueError is a value that does not fit its column's type.
type ValueError struct {
	Column string
	Value  any
	Type   arrow.DataType
	// Reason optionally details why (e.g. a parse error).
	Reason error
}

func (e *ValueError) Error() string {
	s := fmt.Sprintf("column %q: value %s does not fit type %s", e.Column, describeValue(e.Value), TypeName(e.Type))
	if e.Reason != nil {
		s += ": " + e.Reason.Error()
	}
	return s
}

// Unwrap returns ErrTypeMismatch and the reason, if any.
func (e *ValueError) Unwrap() []error {
	if e.Reason != nil {
		return []error{ErrTypeMismatch, e.Reason}
	}
	return []error{ErrTypeMismatch}
}

func describeValue(v any) string {
	const max = 60
	var s string
	switch x := v.(type) {
	case string:
		if len(x) > max {
			x = x[:max] + "…"
		}
		s = fmt.Sprintf("%q", x)
	case map[string]any:
		s = "(object)"
	case []any:
		s = "(array)"
	case json.RawMessage:
		s = string(x)
		if len(s) > max {
			s = s[:max] + "…"
		}
	default:
		s = fmt.Sprint(x)
		if len(s) > max {
			s = s[:max] + "…"
		}
	}
	return s
}
