package join

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"go.uber.org/goleak"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators"
	"github.com/conveyor-etl/conveyor/operators/order"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// runExamples runs every example of a multi-input spec: Input holds the
// inputs separated by lines "---" (spectest feeds a single input).
func runExamples(t *testing.T, spec *flow.Spec) {
	t.Helper()
	if len(spec.Examples) == 0 {
		t.Fatalf("%s has no example", spec.Name)
	}
	for _, ex := range spec.Examples {
		t.Run(ex.Title, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			raw := map[string]any{}
			if err := tomlDecode(ex.Config, raw); err != nil {
				t.Fatal(err)
			}
			var inputs [][]arrow.RecordBatch
			for _, part := range strings.Split(ex.Input, "---\n") {
				b, err := batch.FromNDJSON(mem, part, nil)
				if err != nil {
					t.Fatal(err)
				}
				inputs = append(inputs, []arrow.RecordBatch{b})
			}
			res, err := flow.RunIsolated(context.Background(), spec, raw, flow.BuildEnv{Alloc: mem}, "", inputs...)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			if got := batch.ToNDJSON(res.Output...); got != ex.Output {
				t.Errorf("output:\n%s\nwant:\n%s", got, ex.Output)
			}
		})
	}
}

func TestExamples(t *testing.T) {
	r := flow.NewRegistry()
	Register(r)
	for _, name := range []string{joinName, "transform.join", unionName} {
		spec, ok := r.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		for _, p := range spec.Params {
			if p.Doc == "" {
				t.Errorf("%s: %s has no Doc", name, p.Name)
			}
		}
		runExamples(t, spec)
	}
}

// Test data: left (lid, k int64, s string, x string, f float64) and right
// (rid, k int32, s string, x string, rf float64); nil is null.
type lrow struct {
	lid int64
	k   *int64
	s   *string
	x   string
	f   *float64
}

type rrow struct {
	rid int64
	k   *int32
	s   *string
	x   string
	rf  *float64
}

var words = []string{"a", "b", "日本", "é", ""}

func ptr[T any](v T) *T { return &v }

func genLeft(r *rand.Rand, n, keys int) []lrow {
	out := make([]lrow, n)
	for i := range out {
		l := lrow{lid: int64(i), x: fmt.Sprint("L", i)}
		if r.IntN(6) != 0 {
			l.k = ptr(int64(r.IntN(keys)))
		}
		if r.IntN(6) != 0 {
			l.s = ptr(words[r.IntN(len(words))])
		}
		if r.IntN(6) != 0 {
			l.f = ptr(float64(r.IntN(keys)))
		}
		out[i] = l
	}
	return out
}

func genRight(r *rand.Rand, n, keys int) []rrow {
	out := make([]rrow, n)
	for i := range out {
		x := rrow{rid: int64(1000 + i), x: fmt.Sprint("R", i)}
		if r.IntN(6) != 0 {
			x.k = ptr(int32(r.IntN(keys)))
		}
		if r.IntN(6) != 0 {
			x.s = ptr(words[r.IntN(len(words))])
		}
		switch r.IntN(6) {
		case 0:
		case 1:
			x.rf = ptr(math.NaN())
		case 2:
			x.rf = ptr(float64(r.IntN(keys)) + 0.5)
		default:
			x.rf = ptr(float64(r.IntN(keys)))
		}
		out[i] = x
	}
	return out
}

var leftSchema = arrow.NewSchema([]arrow.Field{
	{Name: "lid", Type: arrow.PrimitiveTypes.Int64},
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "x", Type: arrow.BinaryTypes.String},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

var rightSchema = arrow.NewSchema([]arrow.Field{
	{Name: "rid", Type: arrow.PrimitiveTypes.Int64},
	{Name: "k", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "x", Type: arrow.BinaryTypes.String},
	{Name: "rf", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

func app[T any](fb array.Builder, v *T, f func(T)) {
	if v == nil {
		fb.AppendNull()
	} else {
		f(*v)
	}
}

func leftBatches(mem memory.Allocator, rows []lrow, sizes ...int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for i, si := 0, 0; i < len(rows); si++ {
		n := min(sizes[si%len(sizes)], len(rows)-i)
		b := array.NewRecordBuilder(mem, leftSchema)
		for _, r := range rows[i : i+n] {
			b.Field(0).(*array.Int64Builder).Append(r.lid)
			app(b.Field(1), r.k, b.Field(1).(*array.Int64Builder).Append)
			app(b.Field(2), r.s, b.Field(2).(*array.StringBuilder).Append)
			b.Field(3).(*array.StringBuilder).Append(r.x)
			app(b.Field(4), r.f, b.Field(4).(*array.Float64Builder).Append)
		}
		out = append(out, b.NewRecordBatch())
		b.Release()
		i += n
	}
	return out
}

func rightBatches(mem memory.Allocator, rows []rrow, sizes ...int) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for i, si := 0, 0; i < len(rows); si++ {
		n := min(sizes[si%len(sizes)], len(rows)-i)
		b := array.NewRecordBuilder(mem, rightSchema)
		for _, r := range rows[i : i+n] {
			b.Field(0).(*array.Int64Builder).Append(r.rid)
			app(b.Field(1), r.k, b.Field(1).(*array.Int32Builder).Append)
			app(b.Field(2), r.s, b.Field(2).(*array.StringBuilder).Append)
			b.Field(3).(*array.StringBuilder).Append(r.x)
			app(b.Field(4), r.rf, b.Field(4).(*array.Float64Builder).Append)
		}
		out = append(out, b.NewRecordBatch())
		b.Release()
		i += n
	}
	return out
}

// values of a left/right row by column name (nil for null).
func (l lrow) val(c string) any {
	switch c {
	case "lid":
		return l.lid
	case "k":
		return deref(l.k)
	case "s":
		return deref(l.s)
	case "x":
		return l.x
	case "f":
		return deref(l.f)
	}
	panic(c)
}

func (r rrow) val(c string) any {
	switch c {
	case "rid":
		return r.rid
	case "k":
		if r.k == nil {
			return nil
		}
		return int64(*r.k)
	case "s":
		return deref(r.s)
	case "x":
		return r.x
	case "rf":
		return deref(r.rf)
	}
	panic(c)
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// refEqual is the reference key equality: both non-null and numerically
// equal (an int and a float are equal when the float is that integer).
func refEqual(a, b any) bool {
	if a == nil || b == nil {
		return false
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return y == math.Trunc(y) && float64(x) == y
		}
	case string:
		return x == b
	case float64:
		switch y := b.(type) {
		case int64:
			return refEqual(y, x)
		case float64:
			return x == y || (x != x && y != y)
		}
	}
	return false
}

type pair struct{ l, r int } // -1: missing side

// refJoin is the nested-loop reference.
func refJoin(left []lrow, right []rrow, lk, rk []string, how string) []pair {
	match := func(l lrow, r rrow) bool {
		for i := range lk {
			if !refEqual(l.val(lk[i]), r.val(rk[i])) {
				return false
			}
		}
		return true
	}
	var out []pair
	matched := make([]bool, len(right))
	for li, l := range left {
		any := false
		for ri, r := range right {
			if match(l, r) {
				any = true
				matched[ri] = true
				if how != "semi" && how != "anti" {
					out = append(out, pair{li, ri})
				}
			}
		}
		switch {
		case how == "semi" && any, how == "anti" && !any:
			out = append(out, pair{li, -1})
		case !any && (how == "left" || how == "full"):
			out = append(out, pair{li, -1})
		}
	}
	if how == "right" || how == "full" {
		for ri := range right {
			if !matched[ri] {
				out = append(out, pair{-1, ri})
			}
		}
	}
	return out
}

// cellOf reads row i of a as a Go value (ints as int64).
func cellOf(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Float64:
		return a.Value(i)
	case *array.String:
		return a.Value(i)
	}
	panic(fmt.Sprintf("%T", a))
}

func sameVal(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && (fa == fb || (fa != fa && fb != fb))
	}
	return a == b
}

type joinCase struct {
	name     string
	cfg      map[string]any
	lk, rk   []string
	columns  []string          // expected output names
	origin   map[string]string // output name -> "l:col" / "r:col"
	coalesce map[string]string // output name -> right col, for right/full with on
}

func joinCases() []joinCase {
	return []joinCase{
		{
			name: "on k,s", cfg: map[string]any{"on": []any{"k", "s"}}, lk: []string{"k", "s"}, rk: []string{"k", "s"},
			columns:  []string{"lid", "k", "s", "x", "f", "rid", "x_right", "rf"},
			origin:   map[string]string{"lid": "l:lid", "k": "l:k", "s": "l:s", "x": "l:x", "f": "l:f", "rid": "r:rid", "x_right": "r:x", "rf": "r:rf"},
			coalesce: map[string]string{"k": "k", "s": "s"},
		},
		{
			name: "int vs float keys", cfg: map[string]any{"left_on": "k", "right_on": "rf", "suffix": "_2"}, lk: []string{"k"}, rk: []string{"rf"},
			columns: []string{"lid", "k", "s", "x", "f", "rid", "k_2", "s_2", "x_2", "rf"},
			origin:  map[string]string{"lid": "l:lid", "k": "l:k", "s": "l:s", "x": "l:x", "f": "l:f", "rid": "r:rid", "k_2": "r:k", "s_2": "r:s", "x_2": "r:x", "rf": "r:rf"},
		},
		{
			name: "float vs float keys", cfg: map[string]any{"left_on": []any{"f"}, "right_on": []any{"rf"}}, lk: []string{"f"}, rk: []string{"rf"},
			columns: []string{"lid", "k", "s", "x", "f", "rid", "k_right", "s_right", "x_right", "rf"},
			origin:  map[string]string{"lid": "l:lid", "k": "l:k", "s": "l:s", "x": "l:x", "f": "l:f", "rid": "r:rid", "k_right": "r:k", "s_right": "r:s", "x_right": "r:x", "rf": "r:rf"},
		},
		{
			name: "on s", cfg: map[string]any{"on": "s"}, lk: []string{"s"}, rk: []string{"s"},
			columns:  []string{"lid", "k", "s", "x", "f", "rid", "k_right", "x_right", "rf"},
			origin:   map[string]string{"lid": "l:lid", "k": "l:k", "s": "l:s", "x": "l:x", "f": "l:f", "rid": "r:rid", "k_right": "r:k", "x_right": "r:x", "rf": "r:rf"},
			coalesce: map[string]string{"s": "s"},
		},
	}
}

func TestJoinAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	sizes := []struct{ nl, nr, keys int }{{0, 0, 3}, {0, 5, 3}, {5, 0, 3}, {1, 1, 1}, {40, 30, 4}, {300, 200, 12}}
	for _, sz := range sizes {
		left, right := genLeft(r, sz.nl, sz.keys), genRight(r, sz.nr, sz.keys)
		for _, jc := range joinCases() {
			for _, how := range []string{"inner", "left", "right", "full", "semi", "anti"} {
				for _, bs := range [][]int{{1000}, {1, 7, 50}} {
					name := fmt.Sprintf("%dx%d/%s/%s/%v", sz.nl, sz.nr, jc.name, how, bs)
					t.Run(name, func(t *testing.T) {
						mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
						defer mem.AssertSize(t, 0)
						cfg := map[string]any{"how": how}
						for k, v := range jc.cfg {
							cfg[k] = v
						}
						env := flow.BuildEnv{Alloc: mem, BatchSize: 64}
						res, err := flow.RunIsolated(context.Background(), JoinSpec(), cfg, env, "",
							leftBatches(mem, left, bs...), rightBatches(mem, right, bs...))
						if err != nil {
							t.Fatal(err)
						}
						defer res.Release()
						want := refJoin(left, right, jc.lk, jc.rk, how)
						verifyJoin(t, res.Output, want, left, right, jc, how, sz.nl > 0, sz.nr > 0)
					})
				}
			}
		}
	}
}

func verifyJoin(t *testing.T, out []arrow.RecordBatch, want []pair, left []lrow, right []rrow, jc joinCase, how string, haveL, haveR bool) {
	t.Helper()
	columns := jc.columns
	if how == "semi" || how == "anti" || !haveR {
		columns = []string{"lid", "k", "s", "x", "f"}
	}
	if !haveL {
		columns = []string{"rid", "k", "s", "x", "rf"}
	}
	var got []pair
	for _, b := range out {
		if b.NumRows() > 64 {
			t.Fatalf("batch of %d rows", b.NumRows())
		}
		names := make([]string, b.NumCols())
		for i, f := range b.Schema().Fields() {
			names[i] = f.Name
		}
		if !slices.Equal(names, columns) {
			t.Fatalf("columns %v, want %v", names, columns)
		}
		for i := 0; i < int(b.NumRows()); i++ {
			p := pair{-1, -1}
			row := map[string]any{}
			for c, name := range names {
				row[name] = cellOf(b.Column(c), i)
			}
			if v, ok := row["lid"].(int64); ok {
				p.l = int(v)
			}
			if v, ok := row["rid"].(int64); ok {
				p.r = int(v - 1000)
			}
			got = append(got, p)
			// Every column holds its origin row's value.
			for _, name := range names {
				o := jc.origin[name]
				if !haveL || !haveR || how == "semi" || how == "anti" {
					o = map[bool]string{true: "l:", false: "r:"}[haveL] + name
				}
				var want any
				side, col, _ := strings.Cut(o, ":")
				switch {
				case side == "l" && p.l >= 0:
					want = left[p.l].val(col)
				case side == "l" && jc.coalesce[name] != "" && haveL:
					want = right[p.r].val(jc.coalesce[name])
				case side == "r" && p.r >= 0:
					want = right[p.r].val(col)
				}
				if !sameVal(row[name], want) {
					t.Fatalf("row %v column %s = %v, want %v", p, name, row[name], want)
				}
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pairs:\n%v\nwant:\n%v", got, want)
	}
}

func TestJoinSchemaErrors(t *testing.T) {
	spec := JoinSpec()
	bind := func(raw map[string]any, ls, rs *arrow.Schema) error {
		cfg, errs := flow.CheckConfig(spec, raw)
		if len(errs) > 0 {
			return errs
		}
		_, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{ls, rs})
		return err
	}
	var pe *flow.ParamError
	err := bind(map[string]any{"on": "kk"}, leftSchema, rightSchema)
	if !errors.Is(err, operators.ErrUnknownColumn) || !errors.As(err, &pe) || pe.Key != "on" || !strings.Contains(err.Error(), `did you mean "k"`) {
		t.Errorf("unknown key: %v", err)
	}
	err = bind(map[string]any{"left_on": "k", "right_on": "rff"}, leftSchema, rightSchema)
	if !errors.Is(err, operators.ErrUnknownColumn) || !errors.As(err, &pe) || pe.Key != "right_on" {
		t.Errorf("unknown right key: %v", err)
	}
	if err := bind(map[string]any{"left_on": "k", "right_on": "s"}, leftSchema, rightSchema); !errors.Is(err, operators.ErrTypeMismatch) {
		t.Errorf("int with string: %v", err)
	}
	clash := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "x", Type: arrow.PrimitiveTypes.Int64}, {Name: "x_right", Type: arrow.PrimitiveTypes.Int64}}, nil)
	if err := bind(map[string]any{"on": "k"}, clash, clash); !errors.Is(err, operators.ErrDuplicateColumn) {
		t.Errorf("clash: %v", err)
	}
	for _, bad := range []map[string]any{
		{},
		{"on": "k", "left_on": "k"},
		{"left_on": []any{"a", "b"}, "right_on": "a"},
		{"left_on": "a"},
		{"on": "k", "how": "outer"},
	} {
		if _, errs := flow.CheckConfig(spec, bad); len(errs) == 0 {
			t.Errorf("%v: no error", bad)
		}
	}
	cfg, _ := flow.CheckConfig(spec, map[string]any{"on": "k", "how": "full"})
	s, err := spec.Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{leftSchema, rightSchema})
	if err != nil || s.Field(1).Type.ID() != arrow.INT64 || !s.Field(0).Nullable {
		t.Errorf("full join schema %v, %v", s, err)
	}
}

func TestUnion(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewPCG(1, 1))
	left := genLeft(r, 100, 5)
	right := genRight(r, 70, 5)
	res, err := flow.RunIsolated(context.Background(), UnionSpec(), map[string]any{}, flow.BuildEnv{Alloc: mem}, "",
		leftBatches(mem, left, 7, 30), rightBatches(mem, right, 13), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	want := []string{"lid", "k", "s", "x", "f", "rid", "rf"}
	var gotL, gotR []int64
	for _, b := range res.Output {
		names := make([]string, b.NumCols())
		for i, f := range b.Schema().Fields() {
			names[i] = f.Name
		}
		if !slices.Equal(names, want) || b.Schema().Field(1).Type.ID() != arrow.INT64 {
			t.Fatalf("schema %v", b.Schema())
		}
		for i := 0; i < int(b.NumRows()); i++ {
			row := map[string]any{}
			for c, name := range names {
				row[name] = cellOf(b.Column(c), i)
			}
			if lid, ok := row["lid"].(int64); ok {
				gotL = append(gotL, lid)
				for _, c := range []string{"k", "s", "x", "f"} {
					if !sameVal(row[c], left[lid].val(c)) {
						t.Fatalf("left %d %s = %v", lid, c, row[c])
					}
				}
				if row["rid"] != nil || row["rf"] != nil {
					t.Fatalf("left row with right values")
				}
			} else {
				rid := row["rid"].(int64) - 1000
				gotR = append(gotR, rid)
				for _, c := range []string{"k", "s", "x", "rf"} {
					if !sameVal(row[c], right[rid].val(c)) {
						t.Fatalf("right %d %s = %v", rid, c, row[c])
					}
				}
			}
		}
	}
	// Order within each input is kept.
	if len(gotL) != len(left) || len(gotR) != len(right) || !slices.IsSorted(gotL) || !slices.IsSorted(gotR) {
		t.Fatalf("rows: %d left (sorted %v), %d right (sorted %v)", len(gotL), slices.IsSorted(gotL), len(gotR), slices.IsSorted(gotR))
	}
	cfg, _ := flow.CheckConfig(UnionSpec(), map[string]any{})
	s, err := UnionSpec().Schema(cfg, flow.BuildEnv{}, []*arrow.Schema{leftSchema, rightSchema})
	if err != nil || s.NumFields() != len(want) {
		t.Fatalf("schema %v %v", s, err)
	}
}

// genSource is a test source emitting `batches` batches of `rows` rows:
// k = i % keys, v = i.
type genSource struct{ batches, rows, keys int }

var genSchema = arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)

func (g genSource) Run(ctx context.Context, st *flow.Stage) error {
	i := 0
	for range g.batches {
		kb := array.NewInt64Builder(st.Alloc)
		vb := array.NewInt64Builder(st.Alloc)
		for range g.rows {
			kb.Append(int64(i % g.keys))
			vb.Append(int64(i))
			i++
		}
		k, v := kb.NewArray(), vb.NewArray()
		kb.Release()
		vb.Release()
		b := array.NewRecordBatch(genSchema, []arrow.Array{k, v}, int64(g.rows))
		k.Release()
		v.Release()
		if err := st.Emit(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// countSink counts rows.
type countSink struct{ rows *int64 }

func (c countSink) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	*c.rows += b.NumRows()
	return nil
}
func (c countSink) Close(ctx context.Context, st *flow.Stage) error { return nil }
func (c countSink) Abort()                                          {}

// TestJoinFanOut feeds both sides of a join from one source through two
// branches, with channels of one batch: reading the right side to its end
// first would block the source forever.
func TestJoinFanOut(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var rows int64
	var mu sync.Mutex
	reg := flow.NewRegistry()
	order.Register(reg)
	Register(reg)
	reg.Register(&flow.Spec{Name: "test.gen", Kind: flow.KindSource, Summary: "gen", Description: "gen",
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return genSource{batches: 40, rows: 100, keys: 50}, nil
		}})
	reg.Register(&flow.Spec{Name: "test.count", Kind: flow.KindSink, Summary: "count", Description: "count",
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			return countSink{rows: &rows}, nil
		}})
	src := `
[pipeline]
name = "fanout"
[global]
channel_capacity = 1
batch_size = 100
[[stages]]
id = "gen"
function = "test.gen"
[[stages]]
id = "a"
function = "limit.apply"
inputs = ["gen"]
[stages.config]
n = 1000000
[[stages]]
id = "b"
function = "limit.apply"
inputs = ["gen"]
[stages.config]
n = 1000000
[[stages]]
id = "j"
function = "join.apply"
inputs = ["a", "b"]
[stages.config]
on = "k"
[[stages]]
id = "out"
function = "test.count"
inputs = ["j"]
`
	f, err := flow.Parse("fanout.toml", []byte(src))
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatalf("run: %v (deadlock?)", err)
	}
	// 4000 rows, 50 keys of 80 rows each: 50 * 80 * 80 pairs.
	if rows != 50*80*80 {
		t.Fatalf("%d rows", rows)
	}
	for _, rep := range r.Report() {
		if rep.ID == "j" && rep.PeakBytes == 0 {
			t.Errorf("join reports no peak memory")
		}
	}
}
