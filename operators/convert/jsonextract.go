package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

const jsonExtractName = "json.extract"

// Sentinel errors of json.extract's rejected rows.
var (
	// ErrInvalidJSON: the text in the column is not valid JSON.
	ErrInvalidJSON = errors.New("invalid JSON")
	// ErrJSONValueType: the value at the path does not have the configured type.
	ErrJSONValueType = errors.New("JSON value does not have the requested type")
)

// JSONExtractSpec returns json.extract's spec (a new value on each call).
func JSONExtractSpec() *flow.Spec {
	return &flow.Spec{
		Name:    jsonExtractName,
		Kind:    flow.KindTransform,
		Tags:    []string{"json"},
		Summary: "Extract a value from a column holding JSON text.",
		Description: `column is a string column whose values are JSON documents; path selects a value in
each: "$.user.address.city", "$.items[0].sku", "$.items[-1]" (the last element),
"$['key with spaces']", or the plain form "user.address.city" / "items.0.sku" (a numeric
step indexes an array, or selects a key of that name in an object). "$" selects the whole
document. When a key is repeated in an object, the last occurrence wins.

The value is written to output_column: appended after the input columns, or in place of
an existing column of that name (by default output_column is column itself, which is
replaced). Its type is set by type:
  string (default)  a JSON string gives its text (unescaped); numbers and booleans give
                    their JSON text ("12.50", "true"); objects and arrays their compact
                    JSON text (whitespace between tokens removed, keys in input order).
  json              the value's compact JSON text (strings keep their quotes); the column is marked
                    as JSON, so JSON writers emit it nested.
  int               an integral JSON number, or a string holding an integer ("42").
  float             a JSON number, or a string holding a number.
  bool              true/false, or a string holding one (as cast.apply parses bools).
  timestamp         a string in RFC 3339 or a date form (as cast.apply parses timestamps).

A null input cell, a path that does not exist, and a JSON null give null. A row whose
text is not valid JSON, or whose value does not convert to type (an object for int, "abc"
for float), is rejected — sent to the stage's errors port or the dead-letter output with
the reason, and removed from the output — following the stage's error strategy: under
on_error = "stop" (the default) it stops the pipeline; set on_error = "continue" to go on.

Documents are not decoded into maps: each is checked for validity (the grammar of
RFC 8259, as encoding/json.Valid checks it) and the path is followed by scanning the
text.`,
		Params: []flow.Param{
			{Name: "column", Type: flow.TypeString, Required: true, Doc: "String column holding JSON text."},
			{Name: "path", Type: flow.TypeString, Required: true, Doc: "Path of the value: \"$.a.b[0].c\" or \"a.b.0.c\"."},
			{Name: "output_column", Type: flow.TypeString, Doc: "Column receiving the value (default: column, replaced)."},
			{Name: "type", Type: flow.TypeString, Default: "string", Allowed: []string{"string", "json", "int", "float", "bool", "timestamp"},
				Doc: "Type of the output column."},
		},
		Check:  checkJSONExtract,
		New:    newJSONExtract,
		Schema: jsonExtractSchema,
		Examples: []flow.Example{
			{
				Title:  "A nested string",
				Config: "column = \"payload\"\npath = \"$.user.city\"\noutput_column = \"city\"\n",
				Input:  "{\"id\":1,\"payload\":\"{\\\"user\\\":{\\\"city\\\":\\\"Zürich\\\"}}\"}\n{\"id\":2,\"payload\":\"{\\\"user\\\":{}}\"}\n{\"id\":3,\"payload\":null}\n",
				Output: "{\"id\":1,\"payload\":\"{\\\"user\\\":{\\\"city\\\":\\\"Zürich\\\"}}\",\"city\":\"Zürich\"}\n{\"id\":2,\"payload\":\"{\\\"user\\\":{}}\",\"city\":null}\n{\"id\":3,\"payload\":null,\"city\":null}\n",
			},
			{
				Title:  "An array element as an integer, replacing the column",
				Config: "column = \"doc\"\npath = \"items[0].qty\"\ntype = \"int\"\n",
				Input:  "{\"doc\":\"{\\\"items\\\":[{\\\"qty\\\":3},{\\\"qty\\\":5}]}\"}\n{\"doc\":\"{\\\"items\\\":[]}\"}\n",
				Output: "{\"doc\":3}\n{\"doc\":null}\n",
			},
			{
				Title:  "A sub-document as JSON",
				Config: "column = \"doc\"\npath = \"$.tags\"\noutput_column = \"tags\"\ntype = \"json\"\n",
				Input:  "{\"doc\":\"{\\\"tags\\\":[\\\"a\\\",\\\"b\\\"]}\"}\n",
				Output: "{\"doc\":\"{\\\"tags\\\":[\\\"a\\\",\\\"b\\\"]}\",\"tags\":[\"a\",\"b\"]}\n",
			},
		},
	}
}

func checkJSONExtract(cfg flow.Config) []*flow.ConfigError {
	if _, err := parseJSONPath(cfg.Str("path")); err != nil {
		return []*flow.ConfigError{{Key: "path", Message: err.Error()}}
	}
	return nil
}

func jsonOutType(name string) (arrow.DataType, arrow.Metadata) {
	switch name {
	case "int":
		return arrow.PrimitiveTypes.Int64, arrow.Metadata{}
	case "float":
		return arrow.PrimitiveTypes.Float64, arrow.Metadata{}
	case "bool":
		return arrow.FixedWidthTypes.Boolean, arrow.Metadata{}
	case "timestamp":
		return batch.Timestamp, arrow.Metadata{}
	case "json":
		return arrow.BinaryTypes.String, arrow.NewMetadata([]string{batch.MetaJSON}, []string{"true"})
	}
	return arrow.BinaryTypes.String, arrow.Metadata{}
}

type jsonExtractOp struct {
	column, output, typ, path string
	walker                    jsonWalker
	valid                     jsonValidator

	schema    *arrow.Schema
	outSchema *arrow.Schema
	in        int // input column index
	replace   int // index of the replaced column, or -1
	row       int64
	scratch   []byte
}

func newJSONExtract(cfg flow.Config, env flow.BuildEnv) (any, error) {
	segs, err := parseJSONPath(cfg.Str("path"))
	if err != nil {
		return nil, fmt.Errorf("%s: path: %w", jsonExtractName, err)
	}
	op := &jsonExtractOp{column: cfg.Str("column"), output: cfg.Str("output_column"), typ: cfg.Str("type"), path: cfg.Str("path")}
	if op.output == "" {
		op.output = op.column
	}
	if op.typ == "" {
		op.typ = "string"
	}
	op.walker.path = segs
	return op, nil
}

func jsonExtractSchema(cfg flow.Config, env flow.BuildEnv, inputs []*arrow.Schema) (*arrow.Schema, error) {
	if len(inputs) != 1 || inputs[0] == nil {
		return nil, nil
	}
	o, err := newJSONExtract(cfg, env)
	if err != nil {
		return nil, paramErr("path", err)
	}
	op := o.(*jsonExtractOp)
	if err := op.bind(inputs[0]); err != nil {
		return nil, err
	}
	return op.outSchema, nil
}

func (j *jsonExtractOp) bind(schema *arrow.Schema) error {
	idx, err := columnIndex(jsonExtractName, schema, j.column)
	if err != nil {
		return paramErr("column", err)
	}
	if id := schema.Field(idx).Type.ID(); id != arrow.STRING && id != arrow.LARGE_STRING {
		return paramErr("column", fmt.Errorf("%s: column %q is %s, not a string column holding JSON text: %w",
			jsonExtractName, j.column, batch.TypeName(schema.Field(idx).Type), operators.ErrTypeMismatch))
	}
	dt, meta := jsonOutType(j.typ)
	f := arrow.Field{Name: j.output, Type: dt, Nullable: true, Metadata: meta}
	fields := append([]arrow.Field(nil), schema.Fields()...)
	j.replace = -1
	if o := schema.FieldIndices(j.output); len(o) > 0 {
		j.replace = o[0]
		fields[o[0]] = f
	} else {
		fields = append(fields, f)
	}
	meta2 := schema.Metadata()
	j.schema, j.in, j.outSchema = schema, idx, arrow.NewSchema(fields, &meta2)
	return nil
}

// Transform extracts the value of every row of in (borrowed).
func (j *jsonExtractOp) Transform(ctx context.Context, st *flow.Stage, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if j.schema == nil || (j.schema != in.Schema() && !j.schema.Equal(in.Schema())) {
		if err := j.bind(in.Schema()); err != nil {
			return nil, err
		}
	}
	n := int(in.NumRows())
	if n == 0 {
		return nil, nil
	}
	src := in.Column(j.in)
	view, _ := newStrView(src)
	ext := newJSONAppender(st.Alloc, j.typ, n)
	defer ext.release()
	var bad []int32
	var reasons []error
	for i := 0; i < n; i++ {
		if src.IsNull(i) {
			ext.appendNull()
			continue
		}
		doc := view.at(i)
		if !j.valid.valid(doc) {
			bad = append(bad, int32(i))
			reasons = append(reasons, fmt.Errorf("%s: column %q: %w", jsonExtractName, j.column, ErrInvalidJSON))
			ext.appendNull()
			continue
		}
		v, ok := j.walker.lookup(doc)
		if !ok || (len(v) == 4 && string(v) == "null") {
			ext.appendNull()
			continue
		}
		if err := ext.append(v); err != nil {
			bad = append(bad, int32(i))
			reasons = append(reasons, fmt.Errorf("%s: path %q: %w", jsonExtractName, j.path, err))
			ext.appendNull()
		}
	}
	arr := ext.finish()
	defer arr.Release()
	cols := append([]arrow.Array(nil), in.Columns()...)
	if j.replace >= 0 {
		cols[j.replace] = arr
	} else {
		cols = append(cols, arr)
	}
	res := array.NewRecordBatch(j.outSchema, cols, int64(n))
	if len(bad) == 0 {
		j.row += int64(n)
		return res, nil
	}
	defer res.Release()
	out, err := operators.DropRows(ctx, st.Alloc, res, bad)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", jsonExtractName, err)
	}
	for k, i := range bad {
		if err := st.Reject(ctx, flow.Rejection{Err: reasons[k], Source: fmt.Sprintf("row %d", j.row+int64(i)), Row: batch.Row(in, int(i))}); err != nil {
			if out != nil {
				out.Release()
			}
			return nil, err
		}
	}
	j.row += int64(n)
	return out, nil
}

// jsonAppender converts raw JSON values to one output type.
type jsonAppender struct {
	typ     string
	sb      *array.StringBuilder
	ib      *array.Int64Builder
	fb      *array.Float64Builder
	bb      *array.BooleanBuilder
	tb      *array.TimestampBuilder
	tp      batch.TimestampParser
	text    []byte
	compact bytes.Buffer
}

func newJSONAppender(mem memory.Allocator, typ string, n int) *jsonAppender {
	a := &jsonAppender{typ: typ}
	switch typ {
	case "int":
		a.ib = array.NewInt64Builder(mem)
		a.ib.Reserve(n)
	case "float":
		a.fb = array.NewFloat64Builder(mem)
		a.fb.Reserve(n)
	case "bool":
		a.bb = array.NewBooleanBuilder(mem)
		a.bb.Reserve(n)
	case "timestamp":
		a.tb = array.NewTimestampBuilder(mem, batch.Timestamp.(*arrow.TimestampType))
		a.tb.Reserve(n)
	default:
		a.sb = array.NewStringBuilder(mem)
		a.sb.Reserve(n)
	}
	return a
}

func (a *jsonAppender) builder() array.Builder {
	switch {
	case a.ib != nil:
		return a.ib
	case a.fb != nil:
		return a.fb
	case a.bb != nil:
		return a.bb
	case a.tb != nil:
		return a.tb
	}
	return a.sb
}

func (a *jsonAppender) appendNull() { a.builder().AppendNull() }

func (a *jsonAppender) finish() arrow.Array { return a.builder().NewArray() }

func (a *jsonAppender) release() { a.builder().Release() }

// stringText returns the text of a JSON string value v (quotes included),
// unescaped.
func (a *jsonAppender) stringText(v []byte) ([]byte, error) {
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, err
	}
	a.text = append(a.text[:0], s...)
	return a.text, nil
}

func (a *jsonAppender) append(v []byte) error {
	isStr := v[0] == '"'
	text := v
	if isStr && a.typ != "json" {
		t, err := a.stringText(v)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
		}
		text = t
	}
	switch a.typ {
	case "int":
		if x, ok := batch.ParseInt(text); ok {
			a.ib.UnsafeAppend(x)
			return nil
		}
		if f, ok := batch.ParseFloat(text); ok && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			a.ib.UnsafeAppend(int64(f))
			return nil
		}
		return fmt.Errorf("%w: %s is not an int", ErrJSONValueType, describeJSON(v))
	case "float":
		if v[0] == '{' || v[0] == '[' || v[0] == 't' || v[0] == 'f' {
			return fmt.Errorf("%w: %s is not a number", ErrJSONValueType, describeJSON(v))
		}
		if f, ok := batch.ParseFloat(text); ok {
			a.fb.UnsafeAppend(f)
			return nil
		}
		return fmt.Errorf("%w: %s is not a number", ErrJSONValueType, describeJSON(v))
	case "bool":
		if (v[0] == 't' || v[0] == 'f') || isStr {
			if b, ok := batch.ParseBool(text); ok {
				a.bb.UnsafeAppend(b)
				return nil
			}
		}
		return fmt.Errorf("%w: %s is not a bool", ErrJSONValueType, describeJSON(v))
	case "timestamp":
		if isStr {
			if us, ok := a.tp.Parse(text); ok {
				a.tb.UnsafeAppend(arrow.Timestamp(us))
				return nil
			}
		}
		return fmt.Errorf("%w: %s is not a timestamp", ErrJSONValueType, describeJSON(v))
	}
	if v[0] == '{' || v[0] == '[' {
		// Objects and arrays in compact form.
		a.compact.Reset()
		if err := json.Compact(&a.compact, v); err == nil {
			text = a.compact.Bytes()
		}
	}
	a.sb.BinaryBuilder.Append(text)
	return nil
}

func describeJSON(v []byte) string {
	const max = 60
	if len(v) > max {
		return string(v[:max]) + "…"
	}
	return string(v)
}
