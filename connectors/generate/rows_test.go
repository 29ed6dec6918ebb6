package generate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/benbjohnson/clock"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

var may1 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func rowsCfg(extra map[string]any) map[string]any {
	cfg := map[string]any{
		"count":          int64(1000),
		"start_time":     "2024-05-01T10:00:00Z",
		"event_interval": "250ms",
		"seed":           int64(7),
		"columns": map[string]any{
			"id":     "seq * 2",
			"bucket": "seq % 7",
			"score":  "rand",
			"at":     "ts",
			"label":  "if(rand < 0.5, 'low', 'high')",
			"user":   "concat('user-', string(seq % 100))",
			"minute": "minute(ts)",
		},
		"columns\x00order": []string{"id", "bucket", "score", "at", "label", "user", "minute"},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// Every row against a row-by-row reference computed here, whatever the
// batch size; the seed decides rand.
func TestRowsAgainstReference(t *testing.T) {
	res := run(t, rowsCfg(map[string]any{"batch_size": int64(64)}), flow.BuildEnv{})
	var seq int64
	for _, b := range res.Output {
		if b.NumRows() > 64 {
			t.Fatalf("batch of %d rows, batch_size 64", b.NumRows())
		}
		if got := columnNames(b); got != "id,bucket,score,at,label,user,minute" {
			t.Fatalf("columns %s, want the order written", got)
		}
		id, bucket := column(t, b, "id").(*array.Int64), column(t, b, "bucket").(*array.Int64)
		score, at := column(t, b, "score").(*array.Float64), column(t, b, "at").(*array.Timestamp)
		label, user := column(t, b, "label").(*array.String), column(t, b, "user").(*array.String)
		minute := column(t, b, "minute").(*array.Int64)
		for i := range int(b.NumRows()) {
			// The reference: seq, its event time, and its rand.
			ts := may1.Add(time.Duration(seq) * 250 * time.Millisecond)
			r := unitFloat(mix(7, uint64(seq)))
			wantLabel := "high"
			if r < 0.5 {
				wantLabel = "low"
			}
			if r < 0 || r >= 1 {
				t.Fatalf("rand %v out of [0, 1)", r)
			}
			got := fmt.Sprint(id.Value(i), bucket.Value(i), score.Value(i), at.Value(i), label.Value(i), user.Value(i), minute.Value(i))
			want := fmt.Sprint(seq*2, seq%7, r, ts.UnixMicro(), wantLabel, fmt.Sprintf("user-%d", seq%100), ts.Minute())
			if got != want {
				t.Fatalf("row %d: %s, want %s", seq, got, want)
			}
			seq++
		}
	}
	if seq != 1000 {
		t.Fatalf("%d rows, want 1000", seq)
	}
	one := run(t, rowsCfg(map[string]any{"batch_size": int64(1000)}), flow.BuildEnv{})
	if len(one.Output) != 1 || batch.ToNDJSON(one.Output...) != batch.ToNDJSON(res.Output...) {
		t.Error("the output depends on the batch size")
	}
	other := run(t, rowsCfg(map[string]any{"seed": int64(8)}), flow.BuildEnv{})
	if batch.ToNDJSON(other.Output...) == batch.ToNDJSON(res.Output...) {
		t.Error("another seed gave the same rows")
	}
	// rand is roughly uniform: each tenth of [0, 1) gets 100 ± 40 of 1000.
	var deciles [10]int
	for _, b := range res.Output {
		s := column(t, b, "score").(*array.Float64)
		for i := range s.Len() {
			deciles[int(s.Value(i)*10)]++
		}
	}
	for d, n := range deciles {
		if n < 60 || n > 140 {
			t.Errorf("rand in [%.1f, %.1f): %d of 1000", float64(d)/10, float64(d+1)/10, n)
		}
	}
}

// Exactly count rows, cut at batch_size.
func TestRowsCount(t *testing.T) {
	for _, tc := range []struct{ count, batch, batches int64 }{{1, 10, 1}, {10, 10, 1}, {11, 10, 2}, {100000, 65536, 2}} {
		res := run(t, map[string]any{"count": tc.count, "batch_size": tc.batch}, flow.BuildEnv{})
		if n := rowCount(res.Output); n != tc.count || int64(len(res.Output)) != tc.batches {
			t.Errorf("count %d, batch_size %d: %d rows in %d batches, want %d in %d", tc.count, tc.batch, n, len(res.Output), tc.count, tc.batches)
		}
		last := res.Output[len(res.Output)-1]
		seq := column(t, last, "seq").(*array.Int64)
		if seq.Value(seq.Len()-1) != tc.count-1 {
			t.Errorf("count %d: last seq %d", tc.count, seq.Value(seq.Len()-1))
		}
	}
}

// Without columns: seq and ts; without start_time, ts starts at the
// clock's time; now() reads the pipeline clock.
func TestRowsDefaultsAndClock(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(may1.Add(time.Hour))
	res := run(t, map[string]any{"count": int64(3)}, flow.BuildEnv{Clock: clk})
	if got := batch.ToNDJSON(res.Output...); got != `{"seq":0,"ts":"2024-05-01T11:00:00Z"}
{"seq":1,"ts":"2024-05-01T11:00:00.001Z"}
{"seq":2,"ts":"2024-05-01T11:00:00.002Z"}
` {
		t.Errorf("default output:\n%s", got)
	}
	res = run(t, map[string]any{"count": int64(2), "columns": map[string]any{"now": "now()", "age": "now() - ts"},
		"start_time": "2024-05-01T10:59:00Z", "event_interval": "1m"}, flow.BuildEnv{Clock: clk})
	if got := batch.ToNDJSON(res.Output...); got != `{"age":"60000000us","now":"2024-05-01T11:00:00Z"}
{"age":"0us","now":"2024-05-01T11:00:00Z"}
` {
		t.Errorf("now():\n%s", got)
	}
}

// An expression error names columns.<name>, from the constructor and from
// the Schema hook (conveyor validate).
func TestBadExpressionNamesTheColumn(t *testing.T) {
	for name, cols := range map[string]map[string]any{
		"x": {"ok": "seq", "x": "seq +* 2"}, // syntax
		"y": {"y": "amount * 2"},            // unknown column
		"z": {"z": "concat('a', 1) + 2"},    // type
		"w": {"w": int64(3)},                // not an expression
	} {
		cfg := map[string]any{"count": int64(1), "columns": cols}
		_, err := flow.RunIsolated(context.Background(), Spec(), cfg, flow.BuildEnv{}, "")
		var pe *flow.ParamError
		if !errors.As(err, &pe) || pe.Key != "columns."+name {
			t.Errorf("%v: error %v, want a ParamError on columns.%s", cols, err, name)
		}
		checked, errs := flow.CheckConfig(Spec(), cfg)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if _, err := Spec().Schema(checked, flow.BuildEnv{}, nil); !errors.As(err, &pe) || pe.Key != "columns."+name {
			t.Errorf("Schema: %v, want a ParamError on columns.%s", err, name)
		}
	}
	_, err := flow.RunIsolated(context.Background(), Spec(), map[string]any{"mode": "nexmark", "columns": map[string]any{"a": "seq"}}, flow.BuildEnv{}, "")
	var pe *flow.ParamError
	if !errors.As(err, &pe) || pe.Key != "columns" {
		t.Errorf("columns with nexmark: %v", err)
	}
	_, err = flow.RunIsolated(context.Background(), Spec(), map[string]any{"count": int64(1), "start_time": "yesterday"}, flow.BuildEnv{}, "")
	if !errors.As(err, &pe) || pe.Key != "start_time" {
		t.Errorf("bad start_time: %v", err)
	}
}

// The Schema hook gives the schema of the batches, before any data.
func TestSchemaHook(t *testing.T) {
	for _, cfg := range []map[string]any{
		rowsCfg(nil),
		{"count": int64(10)},
		{"mode": "nexmark", "count": int64(100)},
		{"mode": "nexmark", "count": int64(100), "nexmark_table": "auction"},
		{"mode": "nexmark", "count": int64(100), "nexmark_table": "person"},
		{"mode": "nexmark", "count": int64(100), "nexmark_table": "all"},
	} {
		checked, errs := flow.CheckConfig(Spec(), cfg)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		s, err := Spec().Schema(checked, flow.BuildEnv{Columns: []string{"id"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		res := run(t, cfg, flow.BuildEnv{})
		if !s.Equal(res.Output[0].Schema()) {
			t.Errorf("%v: Schema gives\n%s\nthe batches have\n%s", cfg, s, res.Output[0].Schema())
		}
	}
}

// Only the columns the pipeline reads are built (BuildEnv.Columns), with
// the same values; nothing read still gives the rows.
func TestRowsProjection(t *testing.T) {
	full := run(t, rowsCfg(nil), flow.BuildEnv{})
	part := run(t, rowsCfg(nil), flow.BuildEnv{Columns: []string{"user", "score", "nope"}})
	if got := columnNames(part.Output[0]); got != "score,user" {
		t.Fatalf("projected columns %v", got)
	}
	if project(t, full.Output, "score", "user") != batch.ToNDJSON(part.Output...) {
		t.Error("projected values differ")
	}
	none := run(t, rowsCfg(nil), flow.BuildEnv{Columns: []string{}})
	if rowCount(none.Output) != 1000 || none.Output[0].NumCols() != 1 {
		t.Errorf("no column read: %d rows, %d columns", rowCount(none.Output), none.Output[0].NumCols())
	}
}

// project renders the named columns of bs as NDJSON.
func project(t *testing.T, bs []arrow.RecordBatch, names ...string) string {
	t.Helper()
	var sb strings.Builder
	for _, b := range bs {
		var fields []arrow.Field
		var cols []arrow.Array
		for _, n := range names {
			fields = append(fields, b.Schema().Field(b.Schema().FieldIndices(n)[0]))
			cols = append(cols, column(t, b, n))
		}
		p := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, b.NumRows())
		sb.WriteString(batch.ToNDJSON(p))
		p.Release()
	}
	return sb.String()
}

// columnNames is b's column names, comma-separated.
func columnNames(b arrow.RecordBatch) string {
	var ns []string
	for _, f := range b.Schema().Fields() {
		ns = append(ns, f.Name)
	}
	return strings.Join(ns, ",")
}
