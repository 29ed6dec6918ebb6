package stdio

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runRead runs stdin.read on input and returns the output as NDJSON and
// the errors port rows.
func runRead(t *testing.T, input string, cfg map[string]any, strategy flow.Strategy) (string, []map[string]any, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	res, err := flow.RunIsolated(context.Background(), ReadSpec(strings.NewReader(input)), cfg, flow.BuildEnv{Alloc: mem, BatchSize: 2}, strategy)
	if err != nil {
		return "", nil, err
	}
	defer res.Release()
	var errs []map[string]any
	for _, b := range res.Ports[flow.PortErrors] {
		errs = append(errs, batch.Rows(b)...)
	}
	return batch.ToNDJSON(res.Output...), errs, nil
}

// runWrite runs stdout.write on the NDJSON input (split into batches of
// split rows) and returns what it printed.
func runWrite(t *testing.T, input string, cfg map[string]any, split int64) string {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b, err := batch.FromNDJSON(mem, input, nil)
	if err != nil {
		t.Fatal(err)
	}
	var in []arrow.RecordBatch
	for s := int64(0); s < b.NumRows(); s += split {
		in = append(in, b.NewSlice(s, min(s+split, b.NumRows())))
	}
	b.Release()
	var out bytes.Buffer
	res, err := flow.RunIsolated(context.Background(), WriteSpec(&out), cfg, flow.BuildEnv{Alloc: mem}, "", in)
	if err != nil {
		t.Fatal(err)
	}
	res.Release()
	return out.String()
}

func TestExamples(t *testing.T) {
	for _, ex := range ReadSpec(nil).Examples {
		raw := map[string]any{}
		if _, err := toml.Decode(ex.Config, &raw); err != nil {
			t.Fatal(err)
		}
		got, _, err := runRead(t, ex.Input, raw, "")
		if err != nil || got != ex.Output {
			t.Errorf("%s: %v\n%s", ex.Title, err, got)
		}
	}
	for _, ex := range WriteSpec(nil).Examples {
		raw := map[string]any{}
		if _, err := toml.Decode(ex.Config, &raw); err != nil {
			t.Fatal(err)
		}
		if got := runWrite(t, ex.Input, raw, 1); got != ex.Output {
			t.Errorf("%s:\n%s\nwant:\n%s", ex.Title, got, ex.Output)
		}
	}
}

func TestRegister(t *testing.T) {
	r := flow.NewRegistry()
	Register(r)
	for _, n := range []string{"stdin.read", "stdout.write"} {
		if _, ok := r.Lookup(n); !ok {
			t.Errorf("%s not registered", n)
		}
	}
}

func TestReadFormats(t *testing.T) {
	for _, tc := range []struct {
		name, input string
		cfg         map[string]any
		want        string
	}{
		{"json array", `[{"a":1},{"a":2.5},{"a":null}]`, map[string]any{"format": "json"}, "{\"a\":1}\n{\"a\":2.5}\n{\"a\":null}\n"},
		{"json lines via json", "{\"a\":1}\n{\"a\":2}\n", map[string]any{"format": "json"}, "{\"a\":1}\n{\"a\":2}\n"},
		{"ndjson", "{\"a\":\"2024-01-01\"}\n", map[string]any{"format": "ndjson"}, "{\"a\":\"2024-01-01T00:00:00Z\"}\n"},
		{"csv", "id,name\n1,ana\n2,\"b, c\"\n", map[string]any{"format": "csv"}, "{\"id\":1,\"name\":\"ana\"}\n{\"id\":2,\"name\":\"b, c\"}\n"},
		{"csv tab no header", "1\tx\n", map[string]any{"format": "csv", "delimiter": `\t`, "has_headers": false}, "{\"column_1\":1,\"column_2\":\"x\"}\n"},
		{"raw", "a\r\n\nc", map[string]any{"format": "raw"}, "{\"line\":\"a\"}\n{\"line\":\"\"}\n{\"line\":\"c\"}\n"},
		{"empty", "", map[string]any{}, ""},
	} {
		got, _, err := runRead(t, tc.input, tc.cfg, "")
		if err != nil || got != tc.want {
			t.Errorf("%s: %v\n%s", tc.name, err, got)
		}
	}
}

func TestReadBadLine(t *testing.T) {
	in := "{\"a\":1}\nnot json\n{\"a\":3}\n"
	_, _, err := runRead(t, in, map[string]any{}, "")
	if err == nil || !strings.Contains(err.Error(), "stdin:2") {
		t.Fatalf("stop: %v", err)
	}
	got, errs, err := runRead(t, in, map[string]any{}, flow.StrategyContinue)
	if err != nil || got != "{\"a\":1}\n{\"a\":3}\n" || len(errs) != 1 || errs[0]["source"] != "stdin:2" || errs[0]["raw"] != "not json" {
		t.Fatalf("continue: %v %s %v", err, got, errs)
	}
}

func TestWriteFormats(t *testing.T) {
	in := `{"id":1,"name":"ana","at":"2024-01-01T00:00:00Z","ok":true}
{"id":2,"name":"a \"b\", c","at":null,"ok":null}
{"id":3,"name":"line\nbreak","at":"2024-01-02T03:04:05.5Z","ok":false}
`
	cases := map[string]string{
		"jsonl": `{"id":1,"name":"ana","at":"2024-01-01T00:00:00Z","ok":true}
{"id":2,"name":"a \"b\", c","at":null,"ok":null}
{"id":3,"name":"line\nbreak","at":"2024-01-02T03:04:05.500Z","ok":false}
`,
		"json": `[
{"id":1,"name":"ana","at":"2024-01-01T00:00:00Z","ok":true},
{"id":2,"name":"a \"b\", c","at":null,"ok":null},
{"id":3,"name":"line\nbreak","at":"2024-01-02T03:04:05.500Z","ok":false}
]
`,
		"csv": `id,name,at,ok
1,ana,2024-01-01T00:00:00Z,true
2,"a ""b"", c",,
3,"line
break",2024-01-02T03:04:05.500Z,false
`,
		"table": `id  name         at                        ok
--  -----------  ------------------------  -----
 1  ana          2024-01-01T00:00:00Z      true
 2  a "b", c     NULL                      NULL
 3  line\nbreak  2024-01-02T03:04:05.500Z  false
(3 rows)
`,
	}
	for format, want := range cases {
		if got := runWrite(t, in, map[string]any{"format": format}, 2); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", format, got, want)
		}
	}
	if got := runWrite(t, in, map[string]any{"format": "table", "limit": int64(1)}, 1); got != "id  name  at                    ok\n--  ----  --------------------  ----\n 1  ana   2024-01-01T00:00:00Z  true\n(1 row)\n" {
		t.Errorf("table limit:\n%s", got)
	}
	if got := runWrite(t, in, map[string]any{"format": "csv", "limit": int64(2)}, 1); strings.Count(got, "\n") != 3 {
		t.Errorf("csv limit:\n%s", got)
	}
	if got := runWrite(t, "", map[string]any{}, 1); got != "(0 rows)\n" {
		t.Errorf("empty table: %q", got)
	}
}

func TestTableChunks(t *testing.T) {
	var sb strings.Builder
	n := tableChunkRows + 5
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "{\"n\":%d}\n", i*1000)
	}
	got := runWrite(t, sb.String(), map[string]any{}, 300)
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != n+3 || lines[len(lines)-1] != fmt.Sprintf("(%d rows)", n) {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
	// First chunk is aligned to its widest value; the second keeps at
	// least that width.
	if lines[2] != "     0" || lines[len(lines)-2] != fmt.Sprintf("%d", (n-1)*1000) {
		t.Fatalf("alignment: %q ... %q", lines[2], lines[len(lines)-2])
	}
}
