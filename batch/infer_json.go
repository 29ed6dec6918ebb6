package batch

import (
	"encoding/json"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// jsonKind is what the values seen so far in one column have in common.
// Kinds only ever widen: null < {int < float}, {bool}, {timestamp}, {nested}
// and string absorbs every mixture.
type jsonKind uint8

const (
	kindNull jsonKind = iota
	kindInt
	kindFloat
	kindBool
	kindTimestamp
	kindNested
	kindString
)

// JSONInferrer infers a schema from decoded JSON records (as produced by
// encoding/json, with or without UseNumber). Feed it records with Observe,
// then call Schema. It is not safe for concurrent use.
//
// Rules, per column (columns are ordered by first appearance):
//
//   - integers → int64; integers mixed with other numbers → float64 (a
//     float64 value without a fractional part counts as an integer, since
//     encoding/json cannot tell 3 from 3.0 without UseNumber);
//   - booleans → bool;
//   - strings → timestamp (microseconds, UTC) when every non-null string
//     parses as RFC 3339 or a common date form, string otherwise;
//   - objects and arrays → string holding their JSON text, marked with
//     MetaJSON so JSON writers emit them back as nested values; nested values
//     mixed with scalars → string without the mark;
//   - any other mixture → string;
//   - a column that only ever held null → string.
//
// Every field is nullable: a record may omit any key.
type JSONInferrer struct {
	index map[string]int
	names []string
	kinds []jsonKind
	rows  int
}

// NewJSONInferrer returns an empty inferrer.
func NewJSONInferrer() *JSONInferrer { return &JSONInferrer{index: map[string]int{}} }

// Rows is the number of records observed.
func (in *JSONInferrer) Rows() int { return in.rows }

// Observe widens the inferred types with one record.
func (in *JSONInferrer) Observe(rec map[string]any) {
	in.rows++
	// Iterate in a stable order only for new keys' placement: map order is
	// random, so new keys of one record are added sorted.
	var fresh []string
	for k, v := range rec {
		i, ok := in.index[k]
		if !ok {
			fresh = append(fresh, k)
			continue
		}
		in.kinds[i] = widenKind(in.kinds[i], kindOf(v))
	}
	if len(fresh) > 1 {
		slices.Sort(fresh)
	}
	for _, k := range fresh {
		in.index[k] = len(in.names)
		in.names = append(in.names, k)
		in.kinds = append(in.kinds, kindOf(rec[k]))
	}
}

// ObserveKeys is Observe for a record whose key order is known (keys lists
// rec's keys in document order), so new columns are placed as they appear.
func (in *JSONInferrer) ObserveKeys(rec map[string]any, keys []string) {
	for _, k := range keys {
		if _, ok := in.index[k]; !ok {
			in.index[k] = len(in.names)
			in.names = append(in.names, k)
			in.kinds = append(in.kinds, kindNull)
		}
	}
	in.Observe(rec)
}

// Schema returns the schema inferred so far.
func (in *JSONInferrer) Schema() *arrow.Schema {
	fields := make([]arrow.Field, len(in.names))
	for i, name := range in.names {
		f := arrow.Field{Name: name, Nullable: true}
		switch in.kinds[i] {
		case kindInt:
			f.Type = arrow.PrimitiveTypes.Int64
		case kindFloat:
			f.Type = arrow.PrimitiveTypes.Float64
		case kindBool:
			f.Type = arrow.FixedWidthTypes.Boolean
		case kindTimestamp:
			f.Type = Timestamp
		case kindNested:
			f.Type = arrow.BinaryTypes.String
			f.Metadata = arrow.NewMetadata([]string{MetaJSON}, []string{"true"})
		default:
			f.Type = arrow.BinaryTypes.String
		}
		fields[i] = f
	}
	return arrow.NewSchema(fields, nil)
}

// InferJSON infers the schema of records (see JSONInferrer).
func InferJSON(records []map[string]any) *arrow.Schema {
	in := NewJSONInferrer()
	for _, r := range records {
		in.Observe(r)
	}
	return in.Schema()
}

func kindOf(v any) jsonKind {
	switch x := v.(type) {
	case nil:
		return kindNull
	case bool:
		return kindBool
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if _, err := x.Int64(); err == nil {
				return kindInt
			}
		}
		return kindFloat
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return kindInt
		}
		return kindFloat
	case int, int64:
		return kindInt
	case string:
		if _, ok := parseTimeText(x); ok {
			return kindTimestamp
		}
		return kindString
	case map[string]any, []any, json.RawMessage:
		return kindNested
	}
	return kindString
}

func widenKind(a, b jsonKind) jsonKind {
	switch {
	case a == b:
		return a
	case a == kindNull:
		return b
	case b == kindNull:
		return a
	case (a == kindInt && b == kindFloat) || (a == kindFloat && b == kindInt):
		return kindFloat
	}
	return kindString
}
