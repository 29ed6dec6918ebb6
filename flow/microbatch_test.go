package flow

import (
	"fmt"
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

// timerClock is a mock clock that reports every timer it creates, so a
// test knows when a goroutine has reached the point of waiting on it.
type timerClock struct {
	*clock.Mock
	timers chan time.Duration
}

func (c *timerClock) Timer(d time.Duration) *clock.Timer {
	t := c.Mock.Timer(d)
	c.timers <- d
	return t
}

// A batch cut by size stops its linger timer: the next batch waits its own
// full linger even when the old timer's deadline passes meanwhile.
func TestMicroBatcherSizeCutStopsTheTimer(t *testing.T) {
	clk := clock.NewMock()
	mb := NewMicroBatcher(clk, 2, 100*time.Millisecond)
	mb.Add([]byte("a"))
	clk.Add(90 * time.Millisecond)
	if !mb.Add([]byte("b")) {
		t.Fatal("not full at 2")
	}
	mb.Take()
	clk.Add(5 * time.Millisecond)
	mb.Add([]byte("c")) // due at 195ms, not at the old 100ms
	clk.Add(10 * time.Millisecond)
	select {
	case <-mb.Due():
		t.Fatal("the first batch's timer cut the second")
	default:
	}
	clk.Add(90 * time.Millisecond)
	select {
	case <-mb.Due():
	default:
		t.Fatal("second batch not due after its own linger")
	}
	if data, n := mb.Take(); string(data) != "c\n" || n != 1 {
		t.Fatalf("took %q, %d", data, n)
	}
	mb.Stop()
}

func TestMicroBatcherDefaults(t *testing.T) {
	clk := clock.NewMock()
	mb := NewMicroBatcher(clk, 0, 0) // size 1 at least, DefaultLinger
	if !mb.Add(nil) {
		t.Fatal("size 0 must cut at every record")
	}
	if data, n := mb.Take(); string(data) != "\n" || n != 1 {
		t.Fatalf("an empty record is one record, one line: took %q, %d", data, n)
	}
	mb = NewMicroBatcher(clk, 10, 0)
	mb.Add([]byte("x"))
	clk.Add(DefaultLinger - time.Millisecond)
	select {
	case <-mb.Due():
		t.Fatal("due before DefaultLinger")
	default:
	}
	clk.Add(time.Millisecond)
	select {
	case <-mb.Due():
	default:
		t.Fatal("not due at DefaultLinger")
	}
	mb.Stop()
	mb.Stop() // idempotent
	if !mb.Oldest().Equal(clk.Now().Add(-DefaultLinger)) {
		t.Errorf("oldest %v", mb.Oldest())
	}
	mb.Take()
	if !mb.Oldest().IsZero() || mb.Due() != nil {
		t.Error("an empty batcher has no oldest record and is never due")
	}
}

// The loop a streaming source runs (records from a reader goroutine, cuts
// by size or linger): records that trickle in are handed on after linger
// while nothing else arrives; a burst is cut by size at once; at the end of
// input what is held is handed on.
func TestMicroBatcherSourceLoop(t *testing.T) {
	clk := &timerClock{Mock: clock.NewMock(), timers: make(chan time.Duration, 16)}
	records := make(chan string) // unbuffered: a send returns once the loop has it
	cuts := make(chan string, 16)
	done := make(chan struct{})
	mb := NewMicroBatcher(clk, 3, 100*time.Millisecond)
	go func() {
		defer close(done)
		defer mb.Stop()
		take := func() {
			if mb.Len() > 0 {
				data, n := mb.Take()
				cuts <- fmt.Sprintf("%d:%s", n, data)
			}
		}
		for {
			select {
			case r, ok := <-records:
				if !ok {
					take()
					return
				}
				if mb.Add([]byte(r)) {
					take()
				}
			case <-mb.Due():
				take()
			}
		}
	}()
	noCut := func(when string) {
		t.Helper()
		select {
		case c := <-cuts:
			t.Fatalf("%s: unexpected cut %q", when, c)
		default:
		}
	}
	wantCut := func(want string) {
		t.Helper()
		if got := <-cuts; got != want {
			t.Fatalf("cut %q, want %q", got, want)
		}
	}

	records <- "a"
	<-clk.timers // "a" is held and its linger runs
	clk.Add(99 * time.Millisecond)
	noCut("before linger")
	clk.Add(time.Millisecond)
	wantCut("1:a\n")

	records <- "b" // a burst: cut by size, no time passes
	<-clk.timers
	records <- "c"
	records <- "d"
	wantCut("3:b\nc\nd\n")

	records <- "e"
	<-clk.timers
	clk.Add(50 * time.Millisecond)
	records <- "f" // does not restart the wait
	clk.Add(49 * time.Millisecond)
	noCut("49ms after f")
	clk.Add(time.Millisecond)
	wantCut("2:e\nf\n")

	records <- "g"
	<-clk.timers
	close(records) // end of input: g is handed on without waiting
	wantCut("1:g\n")
	<-done
	noCut("after the end")
}
