// Package bench holds Conveyor's go test -bench suites.
//
// The CSV benchmarks generate their input (the columns of bench/gendata:
// ts,user_id,country,amount,category,clicks) into a temporary directory
// outside the timed part, then run real pipelines through flow.Runner.
// CONVEYOR_BENCH_CSV=/path/to/events.csv makes BenchmarkCSVRead read that
// file instead (e.g. the 10M-row file of bench/gendata).
package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/catalog"
)

const benchRows = 1_000_000

var (
	countries = []string{"US", "CN", "IN", "BR", "DE", "JP", "GB", "FR", "IT", "CA",
		"KR", "RU", "AU", "ES", "MX", "ID", "NL", "SA", "TR", "CH",
		"PL", "SE", "BE", "TH", "IE", "AR", "NO", "IL", "AT", "NG",
		"ZA", "DK", "SG", "MY", "PH", "EG", "VN", "BD", "CL", "FI",
		"RO", "CZ", "PT", "NZ", "PE", "GR", "IQ", "KZ", "HU", "UA"}
	categories = []string{"electronics", "books", "clothing", "home", "garden",
		"toys", "sports", "beauty", "grocery", "automotive",
		"music", "movies", "games", "health", "jewelry",
		"office", "pets", "shoes", "tools", "travel"}
)

// genEvents writes rows of synthetic events shaped like bench/gendata's.
func genEvents(b *testing.B, path string, rows int) int64 {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(42, 0x9e3779b97f4a7c15))
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	w.WriteString("ts,user_id,country,amount,category,clicks\n")
	buf := make([]byte, 0, 256)
	for range rows {
		ts += int64(r.IntN(21))
		u := r.Float64()
		uid := min(1+int(u*u*0.5*100000+u*0.5*100000), 100000)
		amount := math.Round(math.Exp(3+r.NormFloat64())*100) / 100
		clicks := int(-math.Log(1-r.Float64()) * 3)
		buf = time.UnixMilli(ts).UTC().AppendFormat(buf[:0], "2006-01-02T15:04:05.000Z")
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(uid), 10)
		buf = append(buf, ',')
		buf = append(buf, countries[int(u*u*float64(len(countries)))%len(countries)]...)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, amount, 'f', 2, 64)
		buf = append(buf, ',')
		buf = append(buf, categories[r.IntN(len(categories))]...)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(clicks), 10)
		buf = append(buf, '\n')
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	st, _ := f.Stat()
	return st.Size()
}

// discard is a sink that releases what it gets and counts rows.
type discard struct{ rows *int64 }

func (d discard) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	*d.rows += b.NumRows()
	return nil
}
func (discard) Close(context.Context, *flow.Stage) error { return nil }
func (discard) Abort()                                   {}

// amountFilter keeps rows with amount > 10 (the filter operator lives
// elsewhere; this is the same work done by hand on the batch).
var benchRowsOut int64

// benchRegistry is every built-in stage plus a sink that discards.
func benchRegistry() *flow.Registry {
	reg := catalog.Registry()
	reg.Register(&flow.Spec{Name: "bench.discard", Kind: flow.KindSink, Summary: "discard",
		New: func(flow.Config, flow.BuildEnv) (any, error) { return discard{&benchRowsOut}, nil }})
	return reg
}

// runPipeline runs a pipeline file (TOML) and returns the rows read.
func runPipeline(b *testing.B, src string, reg *flow.Registry, dir string) int64 {
	b.Helper()
	f, err := flow.Parse(filepath.Join(dir, "bench.toml"), []byte(src))
	if err != nil {
		b.Fatal(err)
	}
	g, err := flow.Validate(f, reg)
	if err != nil {
		b.Fatal(err)
	}
	r, err := flow.NewRunner(g, flow.Options{Alloc: memory.NewGoAllocator(), BaseDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	for _, rep := range r.Report() {
		if rep.ID == "read" {
			return rep.RowsOut
		}
	}
	return 0
}

func report(b *testing.B, rows, bytes int64) {
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(rows)*float64(b.N)/secs, "rows/s")
	b.ReportMetric(float64(bytes)*float64(b.N)/secs/1e6, "MB/s")
}

func benchInput(b *testing.B) (dir, path string, size int64) {
	dir = b.TempDir()
	if p := os.Getenv("CONVEYOR_BENCH_CSV"); p != "" {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		return dir, p, st.Size()
	}
	path = filepath.Join(dir, "events.csv")
	return dir, path, genEvents(b, path, benchRows)
}

// benchCSVPipeline runs csv.read over the benchmark input followed by
// rest (the TOML of the stages after it, reading stage "read").
func benchCSVPipeline(b *testing.B, rest string) {
	dir, path, size := benchInput(b)
	src := fmt.Sprintf("[[stages]]\nid = \"read\"\nfunction = \"csv.read\"\n[stages.config]\npath = %q\n", path) + rest
	reg := benchRegistry()
	b.ReportAllocs()
	b.ResetTimer()
	var rows int64
	for range b.N {
		rows = runPipeline(b, src, reg, dir)
	}
	report(b, rows, size)
}

// BenchmarkCSVRead measures csv.read alone (into a discarding sink).
func BenchmarkCSVRead(b *testing.B) {
	benchCSVPipeline(b, `
[[stages]]
id = "out"
function = "bench.discard"
inputs = ["read"]
`)
}

// BenchmarkCSVFilterCSV measures csv.read → filter.apply (amount > 10) → csv.write.
func BenchmarkCSVFilterCSV(b *testing.B) {
	benchCSVPipeline(b, `
[[stages]]
id = "big"
function = "filter.apply"
inputs = ["read"]
[stages.config]
column = "amount"
operator = ">"
value = 10
[[stages]]
id = "out"
function = "csv.write"
inputs = ["big"]
[stages.config]
path = "out.csv"
`)
}

// BenchmarkCSVToParquet measures csv.read → parquet.write (zstd).
func BenchmarkCSVToParquet(b *testing.B) {
	benchCSVPipeline(b, `
[[stages]]
id = "out"
function = "parquet.write"
inputs = ["read"]
[stages.config]
path = "out.parquet"
`)
}
