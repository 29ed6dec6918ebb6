package mongodb

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

var placeholder = regexp.MustCompile(`\{\{\s*([^{}]+?)\s*\}\}`)

// template is a parameter text with {{ column }} placeholders. In JSON
// texts (query, pipeline, update) a placeholder becomes the value as a
// JSON literal (strings quoted, numbers bare, null); in names (database,
// collection) its text.
type template struct {
	key   string
	text  string
	json  bool
	names []string
}

func newTemplate(key, text string, isJSON bool) *template {
	t := &template{key: key, text: text, json: isJSON}
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		t.names = append(t.names, m[1])
	}
	return t
}

func (t *template) dynamic() bool { return t != nil && len(t.names) > 0 }

// check reports a placeholder naming no column of schema.
func (t *template) check(s *arrow.Schema) error {
	if t == nil {
		return nil
	}
	for _, n := range t.names {
		if len(s.FieldIndices(n)) == 0 {
			var names []string
			for _, f := range s.Fields() {
				names = append(names, f.Name)
			}
			msg := fmt.Sprintf("{{ %s }} names no input column", n)
			if near := flow.Nearest(n, names); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			return &flow.ParamError{Key: t.key, Err: fmt.Errorf("%s", msg)}
		}
	}
	return nil
}

// render fills the placeholders from row i of b.
func (t *template) render(b arrow.RecordBatch, i int) string {
	if !t.dynamic() {
		return t.text
	}
	s := b.Schema()
	return placeholder.ReplaceAllStringFunc(t.text, func(m string) string {
		name := strings.TrimSpace(m[2 : len(m)-2])
		col := b.Column(s.FieldIndices(name)[0])
		if t.json {
			return string(batch.AppendValueJSON(nil, col, i))
		}
		if col.IsNull(i) {
			return ""
		}
		return batch.FormatValue(col, i)
	})
}
