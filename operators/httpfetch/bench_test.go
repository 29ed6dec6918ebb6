package httpfetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// latencyServer answers every request after a fixed latency, like a
// remote API.
func latencyServer(latency time.Duration) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		io.WriteString(w, `{"id":`+strings.TrimPrefix(r.URL.Path, "/")+`,"ok":true}`)
	}))
}

// fetchRows runs http.fetch over rows rows (one input batch) and returns
// the time it took.
func fetchRows(b *testing.B, url string, rows, concurrency int) time.Duration {
	mem := memory.NewGoAllocator()
	var in strings.Builder
	for i := range rows {
		fmt.Fprintf(&in, "{\"id\":%d}\n", i)
	}
	rec, err := batch.FromNDJSON(mem, in.String(), nil)
	if err != nil {
		b.Fatal(err)
	}
	raw := map[string]any{"url": url + "/{{id}}", "concurrency": int64(concurrency)}
	start := time.Now()
	res, err := flow.RunIsolated(context.Background(), registered(), raw, flow.BuildEnv{Alloc: mem}, flow.StrategyStop, []arrow.RecordBatch{rec})
	d := time.Since(start)
	if err != nil {
		b.Fatal(err)
	}
	n := int64(0)
	for _, o := range res.Output {
		n += o.NumRows()
	}
	res.Release()
	if n != int64(rows) {
		b.Fatalf("%d rows out of %d", n, rows)
	}
	return d
}

// BenchmarkFetchLatency5ms: per-row requests against a server answering
// in 5 ms, sequential (concurrency 1) and with concurrency 32; rows/s is
// the throughput. BenchmarkFetchSpeedup reports the ratio of the two
// measured in the same run.
func BenchmarkFetchLatency5ms(b *testing.B) {
	srv := latencyServer(5 * time.Millisecond)
	defer srv.Close()
	for _, conc := range []int{1, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			rows := 64 * conc
			var total time.Duration
			for b.Loop() {
				total += fetchRows(b, srv.URL, rows, conc)
			}
			b.ReportMetric(float64(rows)*float64(b.N)/total.Seconds(), "rows/s")
		})
	}
}

func BenchmarkFetchSpeedup(b *testing.B) {
	srv := latencyServer(5 * time.Millisecond)
	defer srv.Close()
	var seq, conc, bare time.Duration
	const seqRows, concRows = 100, 3200
	for b.Loop() {
		seq += fetchRows(b, srv.URL, seqRows, 1)
		conc += fetchRows(b, srv.URL, concRows, 32)
		bare += bareLoop(b, srv.URL, concRows, 32)
	}
	seqRate := float64(seqRows*b.N) / seq.Seconds()
	concRate := float64(concRows*b.N) / conc.Seconds()
	bareRate := float64(concRows*b.N) / bare.Seconds()
	b.ReportMetric(seqRate, "seq_rows/s")
	b.ReportMetric(concRate, "c32_rows/s")
	b.ReportMetric(concRate/seqRate, "speedup")
	// The same 32-way load from a bare net/http loop: the machine's own
	// ceiling for this server.
	b.ReportMetric(bareRate/seqRate, "bare_c32_speedup")
}

// bareLoop sends rows GETs from conc goroutines with a plain net/http
// client, for comparison.
func bareLoop(b *testing.B, url string, rows, conc int) time.Duration {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	defer t.CloseIdleConnections()
	c := &http.Client{Transport: t}
	jobs := make(chan int, rows)
	for i := range rows {
		jobs <- i
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				resp, err := c.Get(fmt.Sprintf("%s/%d", url, i))
				if err != nil {
					b.Error(err)
					return
				}
				io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
