package flow

import (
	"context"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func wmMsg(input, sec int) Message {
	return Message{Kind: MsgWatermark, Watermark: at(sec), Input: input}
}

// TestWatermarkMinimumOverInputs drives Recv over two inputs and checks
// which watermarks come out: the minimum, only when it advances; an ended
// input stops holding it back; an idle input too, until it speaks again.
func TestWatermarkMinimumOverInputs(t *testing.T) {
	type step struct {
		input   int  // -1: advance the clock by adv
		wm      int  // watermark second on input (ignored when end)
		end     bool // close the input
		adv     time.Duration
		want    []int // watermarks delivered after the step (seconds)
		wantEnd bool  // the stream ended
	}
	cases := []struct {
		name  string
		idle  time.Duration
		steps []step
	}{
		{"minimum, advancing only", 0, []step{
			{input: 0, wm: 10},
			{input: 1, wm: 5, want: []int{5}},
			{input: 1, wm: 8, want: []int{8}},
			{input: 0, wm: 9},                   // min stays 8: nothing
			{input: 1, wm: 20, want: []int{10}}, // input 0 keeps its maximum, 10
		}},
		{"ended input no longer holds back", 0, []step{
			{input: 0, wm: 3},
			{input: 1, wm: 7, want: []int{3}},
			{input: 0, end: true, want: []int{7}},
			{input: 1, wm: 9, want: []int{9}},
			{input: 1, end: true, wantEnd: true},
		}},
		{"idle input stops holding back", 30 * time.Second, []step{
			{input: 0, wm: 3},
			{input: 1, wm: 1, want: []int{1}},
			{input: -1, adv: 20 * time.Second},
			{input: 0, wm: 50},
			{input: -1, adv: 11 * time.Second, want: []int{50}}, // input 1 idle
			{input: 0, wm: 60, want: []int{60}},
			{input: 1, wm: 61}, // back: min(60, 61) = 60, not an advance
			{input: 0, wm: 70, want: []int{61}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mock := clock.NewMock()
			mock.Set(t0)
			ins := []chan Message{make(chan Message, 8), make(chan Message, 8)}
			st := &Stage{ID: "w", Clock: mock, metrics: &StageMetrics{}, inputs: ins}
			st.SetIdleTimeout(c.idle)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			defer st.stopMerge()
			type got struct {
				msg Message
				ok  bool
			}
			out := make(chan got)
			go func() {
				for {
					m, ok, err := st.Recv(ctx)
					if err != nil {
						return
					}
					select {
					case out <- got{m, ok}:
					case <-ctx.Done():
						return
					}
					if !ok {
						return
					}
				}
			}()
			for i, s := range c.steps {
				switch {
				case s.input < 0:
					// Whether Recv armed its idle timer before or after
					// the clock moves, it finds the same idle inputs.
					mock.Add(s.adv)
				case s.end:
					close(ins[s.input])
				default:
					ins[s.input] <- wmMsg(s.input, s.wm)
				}
				for _, w := range s.want {
					select {
					case g := <-out:
						if !g.ok || g.msg.Kind != MsgWatermark || !g.msg.Watermark.Equal(at(w)) {
							t.Fatalf("step %d: got %+v (ok %v), want watermark %ds", i, g.msg, g.ok, w)
						}
					case <-time.After(2 * time.Second):
						t.Fatalf("step %d: no watermark %ds", i, w)
					}
				}
				if s.wantEnd {
					select {
					case g := <-out:
						if g.ok {
							t.Fatalf("step %d: got %+v, want the end", i, g.msg)
						}
					case <-time.After(2 * time.Second):
						t.Fatalf("step %d: no end", i)
					}
				}
				select {
				case g := <-out:
					t.Fatalf("step %d: unexpected %+v (ok %v)", i, g.msg, g.ok)
				case <-time.After(30 * time.Millisecond):
				}
			}
		})
	}
}
