package batch

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Timestamp is the timestamp type Conveyor infers and builds by default:
// microseconds since the Unix epoch, in UTC.
var Timestamp arrow.DataType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// ParseType turns a type name as written in pipeline files (a `schema` or
// `types` table) into an Arrow type. Accepted names, case-insensitive:
// int, int64, integer, long, int32, int16, int8, uint64…uint8; float,
// float64, double, number, float32; bool, boolean; string, str, text, utf8;
// timestamp, datetime (microseconds, UTC); date (days). The error wraps
// ErrUnsupportedType.
func ParseType(name string) (arrow.DataType, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "int", "int64", "integer", "long", "bigint":
		return arrow.PrimitiveTypes.Int64, nil
	case "int32":
		return arrow.PrimitiveTypes.Int32, nil
	case "int16":
		return arrow.PrimitiveTypes.Int16, nil
	case "int8":
		return arrow.PrimitiveTypes.Int8, nil
	case "uint64":
		return arrow.PrimitiveTypes.Uint64, nil
	case "uint32":
		return arrow.PrimitiveTypes.Uint32, nil
	case "uint16":
		return arrow.PrimitiveTypes.Uint16, nil
	case "uint8":
		return arrow.PrimitiveTypes.Uint8, nil
	case "float", "float64", "double", "number":
		return arrow.PrimitiveTypes.Float64, nil
	case "float32":
		return arrow.PrimitiveTypes.Float32, nil
	case "bool", "boolean":
		return arrow.FixedWidthTypes.Boolean, nil
	case "string", "str", "text", "utf8":
		return arrow.BinaryTypes.String, nil
	case "timestamp", "datetime":
		return Timestamp, nil
	case "date":
		return arrow.FixedWidthTypes.Date32, nil
	}
	return nil, fmt.Errorf("%w %q (use int, float, bool, string, timestamp or date)", ErrUnsupportedType, name)
}

// TypeName is the short name of an Arrow type as ParseType accepts it
// (falling back to Arrow's own name for other types).
func TypeName(dt arrow.DataType) string {
	if dt == nil {
		return "null"
	}
	switch dt.ID() {
	case arrow.INT64:
		return "int64"
	case arrow.FLOAT64:
		return "float64"
	case arrow.BOOL:
		return "bool"
	case arrow.STRING, arrow.LARGE_STRING:
		return "string"
	case arrow.TIMESTAMP:
		return "timestamp"
	case arrow.DATE32, arrow.DATE64:
		return "date"
	}
	return dt.String()
}

// SchemaFromTable builds a schema from a pipeline `schema` table (column
// name → type name). order gives the column order (e.g. Config.SortedKeys);
// every column is nullable.
func SchemaFromTable(table map[string]any, order []string) (*arrow.Schema, error) {
	fields := make([]arrow.Field, 0, len(order))
	for _, name := range order {
		tn, ok := table[name].(string)
		if !ok {
			return nil, fmt.Errorf("schema: column %q: type must be a string such as \"int\"", name)
		}
		dt, err := ParseType(tn)
		if err != nil {
			return nil, fmt.Errorf("schema: column %q: %w", name, err)
		}
		fields = append(fields, arrow.Field{Name: name, Type: dt, Nullable: true})
	}
	return arrow.NewSchema(fields, nil), nil
}

func isInteger(id arrow.Type) bool {
	switch id {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func isFloat(id arrow.Type) bool {
	return id == arrow.FLOAT16 || id == arrow.FLOAT32 || id == arrow.FLOAT64
}
