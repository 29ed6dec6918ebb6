package flow

import (
	"time"

	"github.com/benbjohnson/clock"
)

// DefaultLinger is how long a streaming source holds rows before handing
// on a batch that is not full.
const DefaultLinger = 100 * time.Millisecond

// MicroBatcher is the coalescing helper every streaming source shares: it
// collects records (lines, messages) arriving one at a time and says when
// to cut them into a batch, at Size records or Linger after the first
// record it holds, whichever comes first. Time is the pipeline's clock, so
// tests drive it with a mock clock.
//
// Records are kept as newline-terminated text in one buffer, which the
// source then parses in one go (one parse and one Arrow batch per cut, not
// per record). A source loop looks like:
//
//	for {
//		select {
//		case line := <-lines:
//			if mb.Add(line) { parse(mb.Take()) }
//		case <-mb.Due():
//			parse(mb.Take())
//		case <-st.Draining(): ...
//		}
//	}
//
// A MicroBatcher is used by one goroutine.
type MicroBatcher struct {
	size   int
	linger time.Duration
	clk    clock.Clock

	buf   []byte
	n     int
	first time.Time
	timer *clock.Timer
}

// NewMicroBatcher returns a batcher cutting at size records (at least 1)
// or linger after the first held record (0: DefaultLinger; negative: only
// by size).
func NewMicroBatcher(clk clock.Clock, size int, linger time.Duration) *MicroBatcher {
	if clk == nil {
		clk = clock.New()
	}
	if linger == 0 {
		linger = DefaultLinger
	}
	return &MicroBatcher{size: max(size, 1), linger: linger, clk: clk}
}

// Add appends one record (a newline is added when it does not end with
// one) and reports whether the batch is full and should be taken now.
func (m *MicroBatcher) Add(rec []byte) (full bool) {
	if m.n == 0 {
		m.first = m.clk.Now()
		if m.linger > 0 {
			m.timer = m.clk.Timer(m.linger)
		}
	}
	m.buf = append(m.buf, rec...)
	if len(rec) == 0 || rec[len(rec)-1] != '\n' {
		m.buf = append(m.buf, '\n')
	}
	m.n++
	return m.n >= m.size
}

// Len is the number of records held.
func (m *MicroBatcher) Len() int { return m.n }

// Due fires when the records held have waited Linger; nil (never fires)
// while nothing is held.
func (m *MicroBatcher) Due() <-chan time.Time {
	if m.n == 0 || m.timer == nil {
		return nil
	}
	return m.timer.C
}

// Oldest is when the oldest record held was added (zero when none is).
func (m *MicroBatcher) Oldest() time.Time {
	if m.n == 0 {
		return time.Time{}
	}
	return m.first
}

// Take returns the records held, newline-terminated, and how many there
// are, and empties the batcher. The bytes are valid until the next Add.
func (m *MicroBatcher) Take() (data []byte, n int) {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	data, n = m.buf, m.n
	m.buf, m.n = m.buf[:0], 0
	return data, n
}

// Stop releases the timer.
func (m *MicroBatcher) Stop() {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}
