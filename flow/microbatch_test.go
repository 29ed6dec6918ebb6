package flow

import (
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

func TestMicroBatcherCutsAtSize(t *testing.T) {
	mb := NewMicroBatcher(clock.NewMock(), 3, time.Second)
	if mb.Due() != nil {
		t.Fatal("due while empty")
	}
	if mb.Add([]byte("a")) || mb.Add([]byte("b\n")) {
		t.Fatal("full too early")
	}
	if !mb.Add([]byte("c")) {
		t.Fatal("not full at 3")
	}
	data, n := mb.Take()
	if string(data) != "a\nb\nc\n" || n != 3 {
		t.Fatalf("took %q, %d", data, n)
	}
	if mb.Len() != 0 || mb.Due() != nil {
		t.Fatal("not empty after Take")
	}
}

func TestMicroBatcherCutsAfterLinger(t *testing.T) {
	clk := clock.NewMock()
	mb := NewMicroBatcher(clk, 1000, 100*time.Millisecond)
	clk.Add(time.Second) // idle time before the first record does not count
	mb.Add([]byte("x"))
	start := clk.Now()
	clk.Add(60 * time.Millisecond)
	mb.Add([]byte("y")) // a later record does not restart the wait
	select {
	case <-mb.Due():
		t.Fatal("due before linger")
	default:
	}
	clk.Add(40 * time.Millisecond)
	select {
	case <-mb.Due():
	default:
		t.Fatal("not due after linger")
	}
	if !mb.Oldest().Equal(start) {
		t.Errorf("oldest %v, want %v", mb.Oldest(), start)
	}
	data, n := mb.Take()
	if string(data) != "x\ny\n" || n != 2 {
		t.Fatalf("took %q, %d", data, n)
	}
	// The next batch waits its own linger from its first record.
	clk.Add(time.Second)
	mb.Add([]byte("z"))
	select {
	case <-mb.Due():
		t.Fatal("due at once")
	default:
	}
	clk.Add(100 * time.Millisecond)
	select {
	case <-mb.Due():
	default:
		t.Fatal("second batch not due")
	}
	mb.Stop()
}

func TestMicroBatcherSizeOnly(t *testing.T) {
	clk := clock.NewMock()
	mb := NewMicroBatcher(clk, 2, -1)
	mb.Add([]byte("a"))
	if mb.Due() != nil {
		t.Fatal("a negative linger must never fire")
	}
	clk.Add(time.Hour)
	if !mb.Add([]byte("b")) {
		t.Fatal("not full")
	}
}
