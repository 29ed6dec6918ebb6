package batch

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func nBatch(t *testing.T, mem memory.Allocator, from, n int) arrow.RecordBatch {
	t.Helper()
	var sb strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&sb, "{\"n\":%d}\n", i)
	}
	b, err := FromNDJSON(mem, sb.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCoalescer(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := NewCoalescer(mem, 5)
	defer c.Release()
	var outs []arrow.RecordBatch
	push := func(b arrow.RecordBatch) {
		out, err := c.Push(b)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			outs = append(outs, out)
		}
	}
	push(nBatch(t, mem, 0, 2))
	push(nBatch(t, mem, 2, 2))
	if len(outs) != 0 || c.Len() != 4 {
		t.Fatalf("early emit: %d outs, %d held", len(outs), c.Len())
	}
	push(nBatch(t, mem, 4, 3)) // reaches 7 ≥ 5
	push(nBatch(t, mem, 7, 6)) // passes through
	push(nBatch(t, mem, 13, 1))
	last, err := c.Flush()
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, last)
	if none, _ := c.Flush(); none != nil {
		t.Fatal("second flush not nil")
	}
	sizes := []int64{}
	for _, o := range outs {
		sizes = append(sizes, o.NumRows())
	}
	if fmt.Sprint(sizes) != "[7 6 1]" {
		t.Fatalf("sizes %v", sizes)
	}
	got := ToNDJSON(outs...)
	for _, o := range outs {
		o.Release()
	}
	if strings.Count(got, "\n") != 14 || !strings.HasPrefix(got, `{"n":0}`) || !strings.HasSuffix(got, "{\"n\":13}\n") {
		t.Fatalf("rows: %s", got)
	}
}

func TestCoalescerSchemaChange(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := NewCoalescer(mem, 100)
	defer c.Release()
	if out, _ := c.Push(nBatch(t, mem, 0, 2)); out != nil {
		t.Fatal("unexpected emit")
	}
	other, err := FromNDJSON(mem, `{"s":"x"}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Push(other)
	if err != nil || out == nil || out.NumRows() != 2 {
		t.Fatalf("schema change: %v %v", out, err)
	}
	out.Release()
	if c.Len() != 1 {
		t.Fatalf("held %d", c.Len())
	}
	// Release (deferred) frees the held batch.
}
