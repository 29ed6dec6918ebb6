package order

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/flow"
)

func TestLimitAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	rows := genRows(r, 500)
	for _, total := range []int{0, 1, 37, 500} {
		for _, sizes := range [][]int{{500}, {1, 7, 64}, {100}} {
			for _, n := range []int{0, 1, 5, 100, 499, 500, 1000} {
				for _, off := range []int{0, 1, 3, 64, 499, 600} {
					t.Run(fmt.Sprintf("rows%d/%v/n%d/off%d", total, sizes, n, off), func(t *testing.T) {
						mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
						defer mem.AssertSize(t, 0)
						in := toBatches(mem, rows[:total], sizes...)
						cfg := map[string]any{"n": int64(n)}
						if off > 0 {
							cfg["offset"] = int64(off)
						}
						res, err := flow.RunIsolated(context.Background(), LimitSpec(), cfg, flow.BuildEnv{Alloc: mem}, "", in)
						if err != nil {
							t.Fatal(err)
						}
						defer res.Release()
						lo := min(off, total)
						hi := min(total, lo+n)
						checkRows(t, readRows(t, res.Output), rows[lo:hi])
					})
				}
			}
		}
	}
}

func TestLimitConfig(t *testing.T) {
	for _, bad := range []map[string]any{{}, {"n": int64(-1)}, {"n": int64(1), "offset": int64(-2)}, {"n": "ten"}} {
		if _, errs := flow.CheckConfig(LimitSpec(), bad); len(errs) == 0 {
			t.Errorf("%v: no error", bad)
		}
	}
}
