package httpx

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
)

func TestTemplateRender(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, err := batch.FromNDJSON(mem, `{"id":7,"name":"a b/c?d&e=f","base":"https://h.example:8443/v1","score":1.5,"ok":true,"note":null,"q":"say \"hi\"\n\u00e9"}`+"\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	for _, tc := range []struct {
		tpl  string
		esc  Escape
		want string
	}{
		{"https://api.example.com/users/{{id}}/{{ name }}?q={{name}}&n={{ score }}", EscapeURL,
			"https://api.example.com/users/7/a%20b%2Fc%3Fd&e=f?q=a+b%2Fc%3Fd%26e%3Df&n=1.5"},
		{"{{base}}/items/{{id}}", EscapeURL, "https://h.example:8443/v1/items/7"},
		{"http://{{name}}.example/x", EscapeURL, "http://a b/c?d&e=f.example/x"},
		{`{"id": {{id}}, "name": "{{name}}", "q": "{{q}}", "ok": {{ok}}, "note": {{note}}, "s": {{score}}, "n2": "{{note}}", "raw": {{name}}}`, EscapeJSON,
			`{"id": 7, "name": "a b/c?d&e=f", "q": "say \"hi\"\né", "ok": true, "note": null, "s": 1.5, "n2": "", "raw": "a b/c?d&e=f"}`},
		{`{"a": "x \"{{id}}\" y", "b": {{id}}}`, EscapeJSON, `{"a": "x \"7\" y", "b": 7}`},
		{"id={{id}};note={{note}}", EscapeRaw, "id=7;note="},
		{"name={{name}}&note={{note}}", EscapeURLQuery, "name=a+b%2Fc%3Fd%26e%3Df&note="},
	} {
		tpl := ParseTemplate(tc.tpl, tc.esc)
		b, err := tpl.Bind("http.fetch", "url", rec.Schema())
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.Render(nil, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.tpl, got, tc.want)
		}
		if tc.esc == EscapeJSON && !json.Valid(got) {
			t.Errorf("%s gave invalid JSON %s", tc.tpl, got)
		}
	}
	// Null in a URL is an error naming the key and column.
	b, _ := ParseTemplate("http://x/{{note}}", EscapeURL).Bind("http.fetch", "url", rec.Schema())
	if _, err := b.Render(nil, rec, 0); err == nil || err.Error() != `url: column "note" is null` {
		t.Fatalf("err = %v", err)
	}
	// Unknown columns name the key and suggest.
	_, err = ParseTemplate("http://x/{{nmae}}", EscapeURL).Bind("http.fetch", "url", rec.Schema())
	var pe *flow.ParamError
	if !errors.As(err, &pe) || pe.Key != "url" || !errors.Is(err, operators.ErrUnknownColumn) {
		t.Fatalf("err = %v", err)
	}
	if tpl := ParseTemplate("a{{x}}b{{ y }}{{x}}", EscapeRaw); len(tpl.Columns()) != 2 || tpl.Static() || !ParseTemplate("plain", EscapeRaw).Static() {
		t.Fatal(tpl.Columns())
	}
}
