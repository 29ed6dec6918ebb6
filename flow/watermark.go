package flow

import (
	"math"
	"time"
)

// EndOfTime is the watermark +∞: no event will follow. A stage whose
// inputs have all ended behaves as if it had received it.
var EndOfTime = time.UnixMicro(math.MaxInt64).UTC()

// watermarks tracks the watermark of each input of a stage and the
// minimum over them, which is the stage's input watermark (DESIGN.md §1):
// an input that has ended no longer holds it back, nor does an input idle
// (no message) for longer than the idle timeout, until it speaks again.
// An input that never sent a watermark holds it at "none".
type watermarks struct {
	wm       []time.Time // per input; zero: none yet
	ended    []bool
	idle     []bool
	lastSeen []time.Time // processing time of the input's last message
	timeout  time.Duration
	current  time.Time // last minimum delivered
}

func newWatermarks(n int, now time.Time) *watermarks {
	w := &watermarks{wm: make([]time.Time, n), ended: make([]bool, n), idle: make([]bool, n), lastSeen: make([]time.Time, n)}
	for i := range w.lastSeen {
		w.lastSeen[i] = now
	}
	return w
}

// seen records a message (of any kind) on input i at processing time now.
func (w *watermarks) seen(i int, now time.Time) {
	w.lastSeen[i] = now
	w.idle[i] = false
}

// observe records a watermark on input i.
func (w *watermarks) observe(i int, t time.Time) {
	if t.After(w.wm[i]) {
		w.wm[i] = t
	}
}

// end records the end of input i.
func (w *watermarks) end(i int) { w.ended[i] = true }

// expire marks the inputs idle for longer than the timeout at now, and
// returns the next time one may become idle (zero: none).
func (w *watermarks) expire(now time.Time) time.Time {
	if w.timeout <= 0 {
		return time.Time{}
	}
	var next time.Time
	for i := range w.wm {
		if w.ended[i] || w.idle[i] {
			continue
		}
		deadline := w.lastSeen[i].Add(w.timeout)
		if !now.Before(deadline) {
			w.idle[i] = true
			continue
		}
		if next.IsZero() || deadline.Before(next) {
			next = deadline
		}
	}
	return next
}

// advance returns the minimum over the active inputs when it moved past
// the last one delivered (ok), and records it.
func (w *watermarks) advance() (time.Time, bool) {
	var min time.Time
	active := false
	for i, t := range w.wm {
		if w.ended[i] || w.idle[i] {
			continue
		}
		if t.IsZero() {
			return time.Time{}, false // an active input without a watermark
		}
		if !active || t.Before(min) {
			min = t
		}
		active = true
	}
	if !active || !min.After(w.current) {
		return time.Time{}, false
	}
	w.current = min
	return min, true
}
