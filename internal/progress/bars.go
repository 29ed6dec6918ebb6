package progress

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/conveyor-etl/conveyor/flow"
)

// ticks is the resolution of the input bar.
const ticks = 10000

// bars draws the progress on a terminal with mpb: the input bar, then one
// line per stage. Every refresh is driven by the Display's clock (manual
// refresh), so the bars show the same snapshot in all their parts.
type bars struct {
	p       *mpb.Progress
	refresh chan any
	shut    chan any // closed when mpb shuts down (also after a render error)
	main    *mpb.Bar
	stages  []*mpb.Bar
	known   bool // the input size is known: the bar fills

	mu   sync.Mutex
	snap Snapshot

	idWidth, fnWidth int
}

func newBars(opts Options, initial []flow.StageReport) *bars {
	b := &bars{refresh: make(chan any), shut: make(chan any), known: opts.Input.Bytes > 0 || opts.Input.Rows > 0}
	b.snap = Snapshot{Input: opts.Input, Stages: initial, Fraction: -1, ETA: -1}
	popts := []mpb.ContainerOption{mpb.WithOutput(opts.Out), mpb.WithManualRefresh(b.refresh), mpb.WithShutdownNotifier(b.shut)}
	if opts.Width > 0 {
		popts = append(popts, mpb.WithWidth(opts.Width))
	}
	b.p = mpb.New(popts...)
	if b.known {
		b.main = b.p.New(ticks, mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding("-").Rbound("]"),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return b.readText() })),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return b.rateText() })))
	} else {
		b.main = b.p.New(0, mpb.NopStyle(),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return b.readText() + b.rateText() })))
	}
	for _, s := range initial {
		b.idWidth = max(b.idWidth, len(s.ID))
		b.fnWidth = max(b.fnWidth, len(s.Function))
	}
	for i := range initial {
		bar := b.p.New(0, mpb.NopStyle(),
			mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return b.stageText(i) })))
		b.stages = append(b.stages, bar)
	}
	return b
}

// readText is the input bar's left part: what was read of what.
func (b *bars) readText() string {
	b.mu.Lock()
	s := b.snap
	b.mu.Unlock()
	switch {
	case s.Input.Bytes > 0:
		return fmt.Sprintf("read %s / %s ", Bytes(s.Bytes), Bytes(s.Input.Bytes))
	case s.Input.Rows > 0:
		return fmt.Sprintf("read %s / %s rows ", Count(float64(s.Rows)), Count(float64(s.Input.Rows)))
	case s.Bytes > 0:
		return fmt.Sprintf("read %s, %s rows", Bytes(s.Bytes), Count(float64(s.Rows)))
	}
	return fmt.Sprintf("read %s rows", Count(float64(s.Rows)))
}

// rateText is the input bar's right part: percentage, rows, rate, ETA.
func (b *bars) rateText() string {
	b.mu.Lock()
	s := b.snap
	b.mu.Unlock()
	var parts []string
	if s.Fraction >= 0 {
		parts = append(parts, fmt.Sprintf("%3.0f%%", s.Fraction*100))
	}
	if s.Input.Bytes > 0 {
		parts = append(parts, Count(float64(s.Rows))+" rows")
	}
	parts = append(parts, Count(s.RowsPerSec)+" rows/s")
	if s.ETA >= 0 {
		parts = append(parts, "ETA "+roundDur(s.ETA))
	} else {
		parts = append(parts, roundDur(s.Elapsed))
	}
	return "  " + strings.Join(parts, "  ")
}

// stageText is stage i's line: its counts and how full its inputs are.
func (b *bars) stageText(i int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i >= len(b.snap.Stages) {
		return ""
	}
	s := b.snap.Stages[i]
	line := fmt.Sprintf("  %-*s  %-*s", b.idWidth, s.ID, b.fnWidth, s.Function)
	if s.Kind != flow.KindSource.String() {
		line += "  in " + Count(float64(s.RowsIn))
	}
	if s.Kind != flow.KindSink.String() {
		line += "  out " + Count(float64(s.RowsOut))
	}
	if s.Rejected > 0 {
		line += "  rejected " + Count(float64(s.Rejected))
	}
	if s.Capacity > 0 && s.Queued > 0 {
		line += fmt.Sprintf("  queued %d/%d", s.Queued, s.Capacity)
	}
	return line
}

func (b *bars) update(s Snapshot) {
	b.mu.Lock()
	b.snap = s
	b.mu.Unlock()
	if b.known {
		// The bar completes at finish only: sinks may still be writing
		// when the input is all read.
		b.main.SetCurrent(min(int64(s.Fraction*ticks), ticks-1))
	}
	select {
	case b.refresh <- time.Now():
	case <-b.shut: // the terminal could not be drawn on: nothing to refresh
	}
}

// finish shows the final counts, completes the input bar (which stays on
// the terminal) and removes the stage lines (the summary follows).
func (b *bars) finish(s Snapshot) {
	b.update(s)
	for _, bar := range b.stages {
		bar.Abort(true)
	}
	b.main.SetTotal(-1, true)
	b.p.Wait()
}
