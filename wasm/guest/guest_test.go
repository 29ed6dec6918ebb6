package guest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The dispatcher is the whole guest side except the wasm exports, so it is
// tested natively here; the wasm package's tests run it inside wazero.

type source struct{ left int }

func (s *source) Process(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if s.left == 0 {
		return nil, EndOfStream
	}
	s.left--
	return ints(Allocator, 7), nil
}

type summer struct {
	sum    int64
	closed *bool
}

func (s *summer) Process(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	for _, v := range in.Column(0).(*array.Int64).Int64Values() {
		s.sum += v
	}
	return nil, nil
}

func (s *summer) Flush() (arrow.RecordBatch, error) { return ints(Allocator, s.sum), nil }

func (s *summer) Close() error { *s.closed = true; return nil }

func ints(mem memory.Allocator, vs ...int64) arrow.RecordBatch {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vs, nil)
	col := b.NewArray()
	defer col.Release()
	return array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil), []arrow.Array{col}, int64(len(vs)))
}

func ipcOf(t *testing.T, rec arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeBatch(&buf, rec); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func values(t *testing.T, b []byte) []int64 {
	t.Helper()
	rec, err := readBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	return append([]int64(nil), rec.Column(0).(*array.Int64).Int64Values()...)
}

func setup(t *testing.T) (*dispatcher, *bool) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	prev := Allocator
	Allocator = mem
	closed := new(bool)
	registered = &Plugin{Name: "t", Version: "1", Stages: []Stage{
		{Name: "t.double", Kind: KindTransform, Summary: "x2",
			Params:   []Param{{Name: "factor", Type: "int", Default: 2, Doc: "Factor."}},
			Examples: []Example{{Title: "e", Config: "", Input: "{}\n", Output: "{}\n"}},
			New: func(cfg Config) (Processor, error) {
				f := cfg.Int("factor")
				if f == 0 {
					return nil, errors.New("factor must not be 0")
				}
				return ProcessFunc(func(in arrow.RecordBatch) (arrow.RecordBatch, error) {
					vs := in.Column(0).(*array.Int64).Int64Values()
					out := make([]int64, len(vs))
					for i, v := range vs {
						out[i] = v * f
					}
					return ints(Allocator, out...), nil
				}), nil
			}},
		{Name: "t.same", Kind: KindTransform, New: Func(func(in arrow.RecordBatch) (arrow.RecordBatch, error) { return in, nil })},
		{Name: "t.panic", Kind: KindTransform, New: Func(func(in arrow.RecordBatch) (arrow.RecordBatch, error) { panic("boom") })},
		{Name: "t.sum", Kind: KindSink, Stateful: true, New: func(Config) (Processor, error) { return &summer{closed: closed}, nil }},
		{Name: "t.src", Kind: KindSource, New: func(Config) (Processor, error) { return &source{left: 2}, nil }},
	}}
	t.Cleanup(func() {
		registered = nil
		Allocator = prev
		mem.AssertSize(t, 0)
	})
	return &dispatcher{handles: map[int32]*handle{}}, closed
}

func TestDescribe(t *testing.T) {
	d, _ := setup(t)
	out, ok := d.describe()
	if !ok {
		t.Fatal(d.lastErr)
	}
	var m pluginMeta
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m.ABI != ABIVersion || m.Name != "t" || len(m.Stages) != 5 || m.Stages[0].Params[0].Name != "factor" ||
		m.Stages[0].Examples[0].Title != "e" || !m.Stages[3].Stateful || m.Stages[4].Kind != KindSource {
		t.Fatalf("%s", out)
	}
	if !strings.Contains(string(out), `"params":[]`) {
		t.Errorf("a stage without parameters should list none, not null: %s", out)
	}
}

func TestTransform(t *testing.T) {
	d, _ := setup(t)
	if d.validate([]byte(`{"stage":"t.double","config":{"factor":0}}`)) || d.lastErr != "factor must not be 0" {
		t.Fatalf("validate: %q", d.lastErr)
	}
	if d.create([]byte(`{"stage":"t.nope","config":{}}`)) != 0 || !strings.Contains(d.lastErr, `no stage "t.nope"`) {
		t.Fatalf("unknown stage: %q", d.lastErr)
	}
	h := d.create([]byte(`{"stage":"t.double","config":{"factor":3}}`))
	if h == 0 {
		t.Fatal(d.lastErr)
	}
	in := ints(Allocator, 1, 2, 3)
	payload := ipcOf(t, in)
	in.Release()
	out, st := d.process(h, payload)
	if st != statusOK {
		t.Fatal(d.lastErr)
	}
	if got := values(t, out); len(got) != 3 || got[2] != 9 {
		t.Fatalf("%v", got)
	}
	if _, st := d.process(h, []byte("garbage")); st != statusError || !strings.Contains(d.lastErr, "reading the input batch") {
		t.Fatalf("garbage: %v %q", st, d.lastErr)
	}
	if !d.destroy(h) {
		t.Fatal(d.lastErr)
	}
	if _, st := d.process(h, payload); st != statusError {
		t.Fatal("a destroyed handle still works")
	}
	// Returning the input itself releases it once.
	same := d.create([]byte(`{"stage":"t.same"}`))
	out, st = d.process(same, payload)
	if st != statusOK || len(values(t, out)) != 3 {
		t.Fatalf("%v %q", st, d.lastErr)
	}
}

func TestPanicBecomesError(t *testing.T) {
	d, _ := setup(t)
	in := ints(Allocator, 1)
	payload := ipcOf(t, in)
	in.Release()
	h := d.create([]byte(`{"stage":"t.panic"}`))
	if _, st := d.process(h, payload); st != statusError || !strings.HasPrefix(d.lastErr, "t.panic panicked: boom") {
		t.Fatalf("%v %q", st, d.lastErr)
	}
}

func TestSinkAndSource(t *testing.T) {
	d, closed := setup(t)
	h := d.create([]byte(`{"stage":"t.sum"}`))
	for _, vs := range [][]int64{{1, 2}, {3}} {
		in := ints(Allocator, vs...)
		payload := ipcOf(t, in)
		in.Release()
		if out, st := d.process(h, payload); st != statusOK || out != nil {
			t.Fatalf("%v %q", st, d.lastErr)
		}
	}
	out, st := d.flush(h)
	if st != statusOK || values(t, out)[0] != 6 {
		t.Fatalf("flush: %v %q", st, d.lastErr)
	}
	if !d.destroy(h) || !*closed {
		t.Fatal("Close was not called")
	}
	src := d.create([]byte(`{"stage":"t.src"}`))
	for i := 0; i < 2; i++ {
		if out, st := d.process(src, nil); st != statusOK || values(t, out)[0] != 7 {
			t.Fatalf("batch %d: %v %q", i, st, d.lastErr)
		}
	}
	if _, st := d.process(src, nil); st != statusEnd {
		t.Fatalf("end: %v", st)
	}
	if !errors.Is(EndOfStream, io.EOF) {
		t.Fatal("EndOfStream is io.EOF")
	}
}

func TestConfigGetters(t *testing.T) {
	var c Config
	if err := json.NewDecoder(strings.NewReader(`{"i":9007199254740993,"f":1.5,"d":"1m30s","s":"x","l":["a",2],"b":true,"t":{"k":1}}`)).Decode(&c); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(`{"i":9007199254740993}`))
	dec.UseNumber()
	var exact Config
	if err := dec.Decode(&exact); err != nil {
		t.Fatal(err)
	}
	if exact.Int("i") != 9007199254740993 || c.Float("f") != 1.5 || c.Duration("d").Seconds() != 90 || c.Str("s") != "x" ||
		strings.Join(c.Strings("l"), ",") != "a,2" || !c.Bool("b") || c.Table("t") == nil || c.Has("zz") || c.Int("zz") != 0 {
		t.Fatalf("%v %v", c, exact)
	}
}
