package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ErrNotObject is returned by DecodeObject when the next JSON value is not
// an object.
var ErrNotObject = errors.New("not a JSON object")

// DecodeObject reads the next JSON value from dec, which must be an object,
// and returns its members and its keys in document order (a repeated key
// keeps its first position and its last value). Member values are nil,
// bool, string, json.Number (numbers keep their exact text), or
// json.RawMessage holding the compacted text of a nested object or array
// (so nested key order and numbers are preserved).
// When the value is not an object, the error wraps ErrNotObject and the
// value has been consumed.
func DecodeObject(dec *json.Decoder) (map[string]any, []string, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if ok && (d == '[') {
			// Consume the rest of the array so the decoder stays in sync.
			depth := 1
			for depth > 0 {
				t, err := dec.Token()
				if err != nil {
					return nil, nil, err
				}
				if d, ok := t.(json.Delim); ok {
					if d == '[' || d == '{' {
						depth++
					} else {
						depth--
					}
				}
			}
			return nil, nil, fmt.Errorf("%w: got an array", ErrNotObject)
		}
		if ok {
			return nil, nil, fmt.Errorf("unexpected %q", rune(d))
		}
		return nil, nil, fmt.Errorf("%w: got %s", ErrNotObject, describeValue(tok))
	}
	m := map[string]any{}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, nil, fmt.Errorf("object key is not a string")
		}
		v, err := decodeValue(dec)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := m[k]; !dup {
			keys = append(keys, k)
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, err
	}
	return m, keys, nil
}

// ParseObject decodes text holding exactly one JSON object (surrounding
// white space allowed). See DecodeObject.
func ParseObject(text []byte) (map[string]any, []string, error) {
	if m, keys, ok := parseObjectFast(text); ok {
		return m, keys, nil
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	m, keys, err := DecodeObject(dec)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("unexpected data after the object")
	}
	return m, keys, nil
}

// FromNDJSON builds one batch from NDJSON text (one object per non-blank
// line). With schema nil the schema is inferred from every line
// (JSONInferrer). The caller owns the result. It is meant for small inputs:
// examples, tests and tools.
func FromNDJSON(mem memory.Allocator, text string, schema *arrow.Schema) (arrow.RecordBatch, error) {
	var recs []map[string]any
	in := NewJSONInferrer()
	for n, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, keys, err := ParseObject([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		in.ObserveKeys(m, keys)
		recs = append(recs, m)
	}
	if schema == nil {
		schema = in.Schema()
	}
	return FromRows(mem, schema, recs)
}

// ToNDJSON renders batches as NDJSON text, one line per row with keys in
// schema order (see AppendRowJSON). The batches are borrowed.
func ToNDJSON(batches ...arrow.RecordBatch) string {
	var buf []byte
	for _, b := range batches {
		for i := 0; i < int(b.NumRows()); i++ {
			buf = AppendRowJSON(buf, b, i)
			buf = append(buf, '\n')
		}
	}
	return string(buf)
}

// decodeValue reads one member value (see DecodeObject).
func decodeValue(dec *json.Decoder) (any, error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	switch raw[0] {
	case '{', '[':
		var buf bytes.Buffer
		buf.Grow(len(raw))
		if err := json.Compact(&buf, raw); err != nil {
			return nil, err
		}
		return json.RawMessage(buf.Bytes()), nil
	case 'n':
		return nil, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return s, nil
	}
	return json.Number(raw), nil
}
