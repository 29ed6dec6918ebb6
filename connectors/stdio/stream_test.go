package stdio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// runStream runs stdin.stream on input (cut into batches of batch_size
// rows) and returns the output as NDJSON, the batch sizes and the
// rejections.
func runStream(t *testing.T, input string, cfg map[string]any) (string, []int64, []map[string]any) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	res, err := flow.RunIsolated(context.Background(), StreamSpec(strings.NewReader(input)), cfg,
		flow.BuildEnv{Alloc: mem}, flow.StrategyContinue)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	var sizes []int64
	for _, b := range res.Output {
		sizes = append(sizes, b.NumRows())
	}
	var errs []map[string]any
	for _, b := range res.Ports[flow.PortErrors] {
		errs = append(errs, batch.Rows(b)...)
	}
	return batch.ToNDJSON(res.Output...), sizes, errs
}

// The schema comes from the first batch and holds for the stream: a later
// line with a new key, or a value of another type, is rejected whole with
// its line number counted across batches.
func TestStdinStreamJSONLinesKeepTheFirstSchema(t *testing.T) {
	in := `{"id":1,"name":"ana"}
{"id":2,"name":"bo"}

{"id":3,"name":"cy","extra":true}
{"id":"four","name":"di"}
not json
{"id":5}
`
	out, sizes, errs := runStream(t, in, map[string]any{"format": "jsonl", "batch_size": int64(2)})
	want := `{"id":1,"name":"ana"}
{"id":2,"name":"bo"}
{"id":5,"name":null}
`
	if out != want {
		t.Errorf("rows:\n%s\nwant:\n%s", out, want)
	}
	if len(sizes) != 2 || sizes[0] != 2 || sizes[1] != 1 {
		t.Errorf("batch sizes %v, want [2 1]", sizes)
	}
	wantErrs := []struct{ src, msg string }{
		{"stdin:4", `key "extra"`},
		{"stdin:5", "four"},
		{"stdin:6", "invalid JSON"},
	}
	if len(errs) != len(wantErrs) {
		t.Fatalf("rejections: %v", errs)
	}
	for i, w := range wantErrs {
		if errs[i]["source"] != w.src || !strings.Contains(errs[i]["error"].(string), w.msg) {
			t.Errorf("rejection %d: %v, want %s with %q", i, errs[i], w.src, w.msg)
		}
	}
}

// CSV: the header may arrive alone; the types come from the first records,
// and a record that does not parse is rejected with its line.
func TestStdinStreamCSV(t *testing.T) {
	in := "id,temp,ok\n1,20.5,true\n2,21,false\n3,oops,true\n4,19.25,\n"
	out, _, errs := runStream(t, in, map[string]any{"format": "csv", "batch_size": int64(1)})
	want := `{"id":1,"temp":20.5,"ok":true}
{"id":2,"temp":21,"ok":false}
{"id":4,"temp":19.25,"ok":null}
`
	if out != want {
		t.Errorf("rows:\n%s\nwant:\n%s", out, want)
	}
	if len(errs) != 1 || errs[0]["source"] != "stdin:4" {
		t.Errorf("rejections: %v", errs)
	}
}

func TestStdinStreamRaw(t *testing.T) {
	out, _, _ := runStream(t, "a\r\nb\n\nlast", map[string]any{"format": "raw"})
	want := `{"line":"a"}
{"line":"b"}
{"line":""}
{"line":"last"}
`
	if out != want {
		t.Errorf("rows:\n%s\nwant:\n%s", out, want)
	}
}

// stdout.stream writes every batch through as it arrives: after each
// Write the rows are in the output, not in a buffer.
func TestStdoutStreamFlushesEveryBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var out bytes.Buffer
	spec := StreamWriteSpec(&out)
	cfg, errs := flow.CheckConfig(spec, map[string]any{"format": "csv"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	op, err := spec.New(cfg, flow.BuildEnv{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	sink := op.(flow.Sink)
	for i, want := range []string{"id,ts\n1,2024-05-01T10:00:00Z\n", "id,ts\n1,2024-05-01T10:00:00Z\n2,2024-05-01T10:00:01Z\n"} {
		b, err := batch.FromNDJSON(mem, `{"id":`+string(rune('1'+i))+`,"ts":"2024-05-01T10:00:0`+string(rune('0'+i))+`Z"}`,
			arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "ts", Type: arrow.FixedWidthTypes.Timestamp_us}}, nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Write(context.Background(), nil, b); err != nil {
			t.Fatal(err)
		}
		b.Release()
		if out.String() != want {
			t.Errorf("after batch %d:\n%s\nwant:\n%s", i+1, out.String(), want)
		}
	}
	if err := sink.Close(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// The csv options of stdin.read that make sense line by line work in a
// stream too: comment lines are skipped wherever they fall, quote changes
// the quote character. Batch sizes 1 and 2 put the comments and the
// header in chunks of their own.
func TestStdinStreamCSVCommentAndQuote(t *testing.T) {
	in := "# exported\nid,v\n1,a\n# pause\n2,'b,c'\n3,\"q\"\n"
	want := `{"id":1,"v":"a"}
{"id":2,"v":"b,c"}
{"id":3,"v":"\"q\""}
`
	for _, size := range []int64{1, 2, 100} {
		out, _, errs := runStream(t, in, map[string]any{"format": "csv", "comment": "#", "quote": "'", "batch_size": size})
		if out != want || len(errs) != 0 {
			t.Errorf("batch_size %d: rows\n%s\nrejections %v", size, out, errs)
		}
	}
}

// countSink counts rows.
type countSink struct{ n *atomic.Int64 }

func (c countSink) Write(_ context.Context, _ *flow.Stage, b arrow.RecordBatch) error {
	c.n.Add(b.NumRows())
	return nil
}
func (countSink) Close(context.Context, *flow.Stage) error { return nil }
func (countSink) Abort()                                   {}

// A drain hands on every line the reader already took from stdin, not only
// the batch being filled.
func TestStdinStreamDrainKeepsQueuedLines(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	pr, pw := io.Pipe()
	defer pw.Close()
	var rows atomic.Int64
	reg := flow.NewRegistry()
	reg.Register(StreamSpec(pr))
	reg.Register(&flow.Spec{Name: "test.count", Kind: flow.KindSink, Summary: "counts",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return countSink{&rows}, nil }})
	f, err := flow.Parse("p.toml", []byte(`[[stages]]
id = "in"
function = "stdin.stream"
[stages.config]
format = "raw"
batch_size = 100000
linger = "1h"
[[stages]]
id = "out"
function = "test.count"
inputs = ["in"]
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: mem})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	var text strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&text, "line %d\n", i)
	}
	go io.WriteString(pw, text.String())
	for r.Report()[0].BytesRead < int64(text.Len()) {
		runtime.Gosched()
	}
	r.Drain()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rows.Load() != 1000 {
		t.Errorf("%d rows handed on after the drain, want the 1000 read", rows.Load())
	}
}
