package httpx

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

// Escape says how a row template inserts column values.
type Escape int

const (
	// EscapeURL is for URLs: a value in the scheme or authority (before the
	// first '/' after "://", or in a template starting with a placeholder)
	// is inserted as is, so a column may hold a whole base URL; in the path
	// it is path-escaped (url.PathEscape: '/' and '?' are escaped); after
	// '?' it is query-escaped (url.QueryEscape). A null value is an error.
	EscapeURL Escape = iota
	// EscapeJSON is for JSON bodies: inside a JSON string literal ("...")
	// the value is escaped as string content; elsewhere it is inserted as
	// a JSON value (numbers and bools bare, strings quoted, null as null,
	// JSON columns as their JSON).
	EscapeJSON
	// EscapeRaw inserts the value's text as is (null as the empty string).
	EscapeRaw
	// EscapeURLQuery query-escapes every value (url.QueryEscape; null as
	// the empty string), for form-encoded bodies.
	EscapeURLQuery
)

var rePlaceholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

type tplPart struct {
	lit string
	col string // "" for a literal
	// where the placeholder sits, for EscapeURL and EscapeJSON
	urlZone  int // 0 scheme/authority, 1 path, 2 query
	inString bool
}

// Template is a row template: text with {{ column }} placeholders.
type Template struct {
	src    string
	esc    Escape
	parts  []tplPart
	cols   []string
	static bool
}

// ParseTemplate splits s into literals and {{ column }} placeholders
// (spaces inside the braces are ignored).
func ParseTemplate(s string, esc Escape) *Template {
	t := &Template{src: s, esc: esc}
	seen := map[string]bool{}
	last := 0
	var before strings.Builder
	for _, m := range rePlaceholder.FindAllStringSubmatchIndex(s, -1) {
		lit := s[last:m[0]]
		if lit != "" {
			t.parts = append(t.parts, tplPart{lit: lit})
		}
		before.WriteString(lit)
		col := s[m[2]:m[3]]
		p := tplPart{col: col}
		switch esc {
		case EscapeURL:
			p.urlZone = urlZone(before.String())
		case EscapeJSON:
			p.inString = inJSONString(before.String())
		}
		t.parts = append(t.parts, p)
		if !seen[col] {
			seen[col] = true
			t.cols = append(t.cols, col)
		}
		last = m[1]
	}
	if last < len(s) {
		t.parts = append(t.parts, tplPart{lit: s[last:]})
	}
	t.static = len(t.cols) == 0
	return t
}

// urlZone tells where text ends in a URL: 0 scheme or authority, 1 path,
// 2 query or fragment.
func urlZone(before string) int {
	if strings.ContainsAny(before, "?#") {
		return 2
	}
	i := strings.Index(before, "://")
	if i < 0 {
		if before == "" {
			return 0 // the template starts with a placeholder: a whole URL
		}
		return 1
	}
	if strings.Contains(before[i+3:], "/") {
		return 1
	}
	return 0
}

// inJSONString reports whether text ends inside a JSON string literal.
func inJSONString(before string) bool {
	in := false
	for i := 0; i < len(before); i++ {
		switch before[i] {
		case '\\':
			if in {
				i++
			}
		case '"':
			in = !in
		}
	}
	return in
}

// Source is the template text.
func (t *Template) Source() string { return t.src }

// Columns lists the columns the template reads, in first-use order.
func (t *Template) Columns() []string { return t.cols }

// Static reports whether the template has no placeholder.
func (t *Template) Static() bool { return t.static }

// Bound is a template bound to a schema: it renders rows of batches with
// that schema. It is safe for concurrent use.
type Bound struct {
	t      *Template
	idx    []int // per part (placeholders only)
	isJSON []bool
	key    string
}

// Bind resolves the template's columns in schema. An unknown column is a
// *flow.ParamError for key wrapping an *operators.UnknownColumnError.
func (t *Template) Bind(stage, key string, schema *arrow.Schema) (*Bound, error) {
	b := &Bound{t: t, idx: make([]int, len(t.parts)), isJSON: make([]bool, len(t.parts)), key: key}
	names := make([]string, schema.NumFields())
	for i, f := range schema.Fields() {
		names[i] = f.Name
	}
	for i, p := range t.parts {
		if p.col == "" {
			continue
		}
		ix := schema.FieldIndices(p.col)
		if len(ix) == 0 {
			return nil, &flow.ParamError{Key: key, Err: &operators.UnknownColumnError{
				Stage: stage, Column: p.col, Suggestion: flow.Nearest(p.col, names), Available: names}}
		}
		b.idx[i] = ix[0]
		b.isJSON[i] = batch.IsJSONField(schema.Field(ix[0]))
	}
	return b, nil
}

// Render appends the template filled from row i of rec to dst. rec must
// have the schema the template was bound to.
func (b *Bound) Render(dst []byte, rec arrow.RecordBatch, i int) ([]byte, error) {
	for pi, p := range b.t.parts {
		if p.col == "" {
			dst = append(dst, p.lit...)
			continue
		}
		arr := rec.Column(b.idx[pi])
		null := arr.IsNull(i)
		switch b.t.esc {
		case EscapeURL:
			if null {
				return dst, fmt.Errorf("%s: column %q is null", b.key, p.col)
			}
			v := text(arr, i)
			switch p.urlZone {
			case 0:
				dst = append(dst, v...)
			case 1:
				dst = append(dst, url.PathEscape(v)...)
			default:
				dst = append(dst, url.QueryEscape(v)...)
			}
		case EscapeJSON:
			if p.inString {
				if !null {
					dst = appendJSONContent(dst, text(arr, i))
				}
				continue
			}
			if b.isJSON[pi] && !null {
				dst = append(dst, text(arr, i)...)
				continue
			}
			dst = batch.AppendValueJSON(dst, arr, i)
		case EscapeURLQuery:
			if !null {
				dst = append(dst, url.QueryEscape(text(arr, i))...)
			}
		default:
			if !null {
				dst = append(dst, text(arr, i)...)
			}
		}
	}
	return dst, nil
}

// text is a non-null value as text: strings as they are, other types as
// batch.FormatValue renders them.
func text(arr arrow.Array, i int) string {
	switch a := arr.(type) {
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	}
	return batch.FormatValue(arr, i)
}

// appendJSONContent appends s escaped as the content of a JSON string
// (without the quotes). Invalid UTF-8 becomes U+FFFD.
func appendJSONContent(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, "\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}
