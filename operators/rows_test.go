package operators

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestDropRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(9, 10))
	rows := mixedRows(rng, 100)
	in := build(t, mem, mixedSchema, rows...)
	defer in.Release()
	for _, drop := range [][]int32{nil, {0}, {99}, {3, 4, 5, 50, 98}} {
		out, err := DropRows(context.Background(), mem, in, drop)
		if err != nil {
			t.Fatal(err)
		}
		var want [][]any
		for i, r := range rowsOf([]arrow.RecordBatch{in}) {
			keep := true
			for _, d := range drop {
				keep = keep && int(d) != i
			}
			if keep {
				want = append(want, r)
			}
		}
		if got := rowsOf([]arrow.RecordBatch{out}); !reflect.DeepEqual(got, want) {
			t.Errorf("drop %v: %d rows, want %d", drop, len(got), len(want))
		}
		out.Release()
	}
	all := make([]int32, 100)
	for i := range all {
		all[i] = int32(i)
	}
	if out, err := DropRows(context.Background(), mem, in, all); out != nil || err != nil {
		t.Errorf("dropping every row: %v, %v", out, err)
	}
}
