package aggregate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// refDistinct keeps, per key of subset, the first or last row, in order of
// first appearance of the key (row by row, with a map).
func refDistinct(in []arrow.RecordBatch, subset []string, last bool) [][]any {
	index := map[string]int{}
	var out [][]any
	for _, b := range in {
		for i := range int(b.NumRows()) {
			var row []any
			var ks []string
			for c := range int(b.NumCols()) {
				row = append(row, cell(b.Column(c), i))
			}
			for _, k := range subset {
				ks = append(ks, keyString(cell(b.Column(b.Schema().FieldIndices(k)[0]), i)))
			}
			key := strings.Join(ks, "\\x00")
			j, ok := index[key]
			switch {
			case !ok:
				index[key] = len(out)
				out = append(out, row)
			case last:
				out[j] = row
			}
		}
	}
	return out
}

func TestDistinctMatchesReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	subsets := [][]string{nil, {"k"}, {"s"}, {"b", "s"}, {"f", "k", "ts"}}
	shapes := []struct {
		sizes []int
		card  int
	}{{nil, 3}, {[]int{1}, 3}, {[]int{40, 0, 300, 7}, 1}, {[]int{40, 0, 300, 7}, 5}, {[]int{500, 2000, 9}, 300}, {[]int{120, 80}, 0}}
	for si, sh := range shapes {
		for ki, subset := range subsets {
			for _, keep := range []string{"first", "last"} {
				for _, bs := range []int{4, 100000} {
					t.Run(fmt.Sprintf("%v/%d/%v/%s/%d", sh.sizes, sh.card, subset, keep, bs), func(t *testing.T) {
						in := genBatches(mem, uint64(si*10+ki), sh.sizes, sh.card)
						defer release(in)
						cfg := map[string]any{"keep": keep}
						cols := subset
						if subset != nil {
							var l []any
							for _, s := range subset {
								l = append(l, s)
							}
							cfg["subset"] = l
						} else {
							cols = []string{"k", "s", "b", "f", "i", "ts"}
						}
						out, res := run(t, mem, DistinctSpec(), cfg, bs, in)
						defer res.Release()
						_, rows := rowsOf(out)
						want := refDistinct(in, cols, keep == "last")
						if len(rows) != len(want) {
							t.Fatalf("%d rows, want %d", len(rows), len(want))
						}
						for i := range want {
							if fmt.Sprint(rows[i]) != fmt.Sprint(want[i]) {
								t.Fatalf("row %d = %v, want %v", i, rows[i], want[i])
							}
						}
						if keep == "first" && len(in) > 0 && sh.card == 0 && len(out) != len(in) {
							t.Fatalf("keep=first did not stream: %d output batches for %d inputs", len(out), len(in))
						}
					})
				}
			}
		}
	}
}
