package ai

import (
	"context"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
)

// estimateTokens is the token reservation of a call before it is made: its
// prompt and system text at 4 bytes per token, plus 8 for the message
// framing, plus the most output tokens it may produce.
func estimateTokens(r *callRequest) int64 {
	in := int64(len(r.system)+len(r.prompt)+3)/4 + 8
	return in + int64(r.maxTokens)
}

// budget caps the tokens a stage spends in a run. A call reserves its
// estimate before it starts and settles with the tokens its answer
// reports. A call starts only when the tokens used, plus those reserved by
// calls in flight, plus its own estimate fit in the limit; when they do
// not, it waits for the calls in flight to settle, and when none is left
// the budget is exhausted for the rest of the run.
type budget struct {
	limit int64

	mu        sync.Mutex
	used      int64
	reserved  int64
	inflight  int
	exhausted bool
	changed   chan struct{} // closed and replaced on every settle
}

func newBudget(limit int64) *budget {
	return &budget{limit: limit, changed: make(chan struct{})}
}

// reserve waits until est tokens fit; it returns ErrBudgetExhausted when
// they never will.
func (b *budget) reserve(ctx context.Context, est int64) error {
	for {
		b.mu.Lock()
		if b.exhausted {
			b.mu.Unlock()
			return ErrBudgetExhausted
		}
		if b.used+b.reserved+est <= b.limit {
			b.reserved += est
			b.inflight++
			b.mu.Unlock()
			return nil
		}
		if b.inflight == 0 {
			b.exhausted = true
			b.mu.Unlock()
			return ErrBudgetExhausted
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// settle ends a reservation of est tokens with the tokens actually used.
func (b *budget) settle(est, used int64) {
	b.mu.Lock()
	b.reserved -= est
	b.inflight--
	b.used += used
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// state returns the tokens used and whether the budget is exhausted.
func (b *budget) state() (used int64, exhausted bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.exhausted
}

// tokenLimiter paces calls to a number of tokens per minute, on the
// stage's clock. It is a token bucket holding a minute's worth, refilled
// continuously; a call takes its estimate at once (the level may go below
// zero) and waits until the level is back to zero; once answered, the
// difference between estimate and actual use is given back or taken.
type tokenLimiter struct {
	clock  clock.Clock
	perSec float64
	cap    float64
	onWait func(time.Duration)

	mu    sync.Mutex
	level float64
	last  time.Time
}

func newTokenLimiter(clk clock.Clock, perMinute float64, onWait func(time.Duration)) *tokenLimiter {
	return &tokenLimiter{clock: clk, perSec: perMinute / 60, cap: perMinute, level: perMinute, last: clk.Now(), onWait: onWait}
}

func (l *tokenLimiter) refill(now time.Time) {
	if dt := now.Sub(l.last); dt > 0 {
		l.level = min(l.cap, l.level+dt.Seconds()*l.perSec)
		l.last = now
	}
}

// wait takes n tokens and waits until the bucket has paid for them.
func (l *tokenLimiter) wait(ctx context.Context, n int64) error {
	l.mu.Lock()
	l.refill(l.clock.Now())
	l.level -= float64(n)
	deficit := -l.level
	l.mu.Unlock()
	if deficit <= 0 {
		return nil
	}
	d := time.Duration(deficit / l.perSec * float64(time.Second))
	if d <= 0 {
		return nil
	}
	t := l.clock.Timer(d)
	defer t.Stop()
	if l.onWait != nil {
		l.onWait(d)
	}
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		l.adjust(n) // not spent
		return ctx.Err()
	}
}

// adjust gives back delta tokens (negative: takes them).
func (l *tokenLimiter) adjust(delta int64) {
	l.mu.Lock()
	l.refill(l.clock.Now())
	l.level = min(l.cap, l.level+float64(delta))
	l.mu.Unlock()
}
