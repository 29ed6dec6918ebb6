package filewatch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conveyor-etl/conveyor/connectors/internal/linesource"
)

// The tailer is driven poll by poll: after poll returns, every line it
// read is in its channel, so each test states exactly what one poll yields.

type tailTest struct {
	t    *testing.T
	path string
	out  chan linesource.Line
	tl   *tailer
}

func newTailTest(t *testing.T, fromEnd bool) *tailTest {
	t.Helper()
	out := make(chan linesource.Line, 1<<16)
	path := filepath.Join(t.TempDir(), "app.log")
	tt := &tailTest{t: t, path: path, out: out, tl: newTailer(path, fromEnd, out, nil)}
	t.Cleanup(tt.tl.close)
	return tt
}

// poll polls once and returns the lines sent, without their newlines
// (a line sent without one is marked with a trailing "$").
func (tt *tailTest) poll() []string {
	tt.t.Helper()
	if err := tt.tl.poll(context.Background()); err != nil {
		tt.t.Fatal(err)
	}
	return tt.drain()
}

func (tt *tailTest) drain() []string {
	got := []string{}
	for {
		select {
		case l := <-tt.out:
			s := string(l.Data)
			if strings.HasSuffix(s, "\n") {
				s = s[:len(s)-1]
			} else {
				s += "$"
			}
			got = append(got, s)
		default:
			return got
		}
	}
}

func (tt *tailTest) expect(want ...string) {
	tt.t.Helper()
	got := tt.poll()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		tt.t.Fatalf("poll gave %q, want %q", got, want)
	}
}

func (tt *tailTest) append(text string) { appendTo(tt.t, tt.path, text) }

func (tt *tailTest) rotate() {
	tt.t.Helper()
	for i := 1; ; i++ {
		old := fmt.Sprintf("%s.%d", tt.path, i)
		if _, err := os.Stat(old); err == nil {
			continue
		}
		if err := os.Rename(tt.path, old); err != nil {
			tt.t.Fatal(err)
		}
		return
	}
}

func TestTailAppendsAndPartialLines(t *testing.T) {
	tt := newTailTest(t, false)
	tt.expect() // no file yet: nothing, no error
	tt.append("a1\na2\npar")
	tt.expect("a1", "a2")
	tt.expect() // the partial line is held
	tt.append("t")
	tt.expect()
	tt.append("ial\n\nlast")
	tt.expect("partial", "") // an empty line is a line
	tt.append("\n")
	tt.expect("last")
	if tt.tl.off != int64(len("a1\na2\npartial\n\nlast\n")) {
		t.Errorf("offset %d", tt.tl.off)
	}
}

// Rotation: the old file is read to its end (lines written after the last
// poll and before the rename included, its partial last line taken as
// complete), then the new one from its start.
func TestTailRotation(t *testing.T) {
	tt := newTailTest(t, false)
	tt.append("a1\n")
	tt.expect("a1")
	tt.append("a2\na3-no-newline")
	tt.rotate()
	tt.expect("a2") // renamed away, nothing at the path yet: the old file is still read
	tt.append("b1\nb2\n")
	tt.expect("a3-no-newline$", "b1", "b2")
	tt.append("b3\n")
	tt.rotate()
	tt.append("c1\n")
	tt.expect("b3", "c1")

	// Removed and recreated: the same as a rename.
	if err := os.Remove(tt.path); err != nil {
		t.Fatal(err)
	}
	tt.expect()
	tt.append("d1\n")
	tt.expect("d1")
}

// The race rotation must survive: the writer appends to the old file after
// the tailer's last read of it and renames it before the tailer looks at
// the path again. The old file's tail comes first, then the new file.
func TestTailRotationAfterLastRead(t *testing.T) {
	tt := newTailTest(t, false)
	tt.append("a1\n")
	tt.expect("a1")
	tt.append("a2\n")
	tt.rotate()
	tt.append("b1\n")
	changed, err := tt.tl.check(context.Background())
	if err != nil || !changed {
		t.Fatalf("rotation not seen: %v %v", changed, err)
	}
	tt.expect("a2", "b1")
}

// Truncation (copytruncate rotation, or a log emptied in place): the file
// is read again from its start; a held partial line went with the rest.
func TestTailTruncation(t *testing.T) {
	tt := newTailTest(t, false)
	tt.append("a1\na2\na3\npartial")
	tt.expect("a1", "a2", "a3")
	if err := os.Truncate(tt.path, 0); err != nil {
		t.Fatal(err)
	}
	tt.expect()
	tt.append("b1\nb2\nb3\n")
	tt.expect("b1", "b2", "b3")

	// Truncated and rewritten shorter than what was read, between polls.
	if err := os.WriteFile(tt.path, []byte("c1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tt.expect("c1")

	// As with tail -F, a rewrite longer than what was read, between two
	// polls, cannot be told from an append: reading goes on at the old
	// offset.
	if err := os.WriteFile(tt.path, []byte("d1\nd2\nd3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tt.expect("d2", "d3")
	if err := os.Truncate(tt.path, 0); err != nil {
		t.Fatal(err)
	}
	tt.expect()
}

// from = "end": the first file is read from where it ends when the stream
// starts; a file that appears later, or replaces it, is read from its
// start.
func TestTailFromEnd(t *testing.T) {
	tt := newTailTest(t, true)
	tt.append("old1\nold2\n")
	tt.expect()
	tt.append("new1\n")
	tt.expect("new1")
	tt.rotate()
	tt.append("b1\n")
	tt.expect("b1")

	late := newTailTest(t, true)
	late.expect() // no file when the stream starts
	late.append("x1\nx2\n")
	late.expect("x1", "x2")
}

// follow = false reads to the current end and stops, taking a last line
// without a newline as complete; a missing file is an error.
func TestTailNoFollow(t *testing.T) {
	tt := newTailTest(t, false)
	err := tt.tl.run(context.Background(), nil, 0, false)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing file: %v", err)
	}
	tt = newTailTest(t, false)
	tt.append("a\nb")
	if err := tt.tl.run(context.Background(), nil, 0, false); err != nil {
		t.Fatal(err)
	}
	if got := tt.drain(); strings.Join(got, "|") != "a|b$" {
		t.Fatalf("lines %q", got)
	}
}

// A line longer than the bound (here 16 bytes) fails the stage, naming the
// file and the byte it starts at, rather than growing without limit.
func TestTailLineTooLong(t *testing.T) {
	defer func(n int) { maxLineBytes = n }(maxLineBytes)
	maxLineBytes = 16
	tt := newTailTest(t, false)
	tt.append("short\n0123456789")
	tt.expect("short")
	tt.append("0123456789\n")
	err := tt.tl.poll(context.Background())
	if err == nil || !strings.Contains(err.Error(), "app.log: the line at byte 6 is longer than 16 bytes") {
		t.Fatalf("error %v", err)
	}
}

// A random interleaving of appends cut at arbitrary bytes, polls,
// rotations and truncations: every line written reaches the channel once,
// in order. As with tail -F, rotation and truncation are safe under two
// conditions the writer meets here: a file is rotated away only after the
// tailer opened it, and at a line boundary; a file is truncated only
// once everything written to it was read, and the truncation is seen
// before the file grows past the old end again.
func TestTailRandomOperationsLoseNothing(t *testing.T) {
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			tt := newTailTest(t, false)
			var want, got []string
			pending := ""   // text of lines not yet written
			unread := false // written since the last poll
			midLine := false
			next := 0
			opened := func() bool { // the tailer has the file at the path open
				info, err := os.Stat(tt.path)
				return err == nil && tt.tl.f != nil && os.SameFile(info, tt.tl.info)
			}
			poll := func() {
				got = append(got, tt.poll()...)
				unread = false
			}
			for range 500 {
				switch op := rng.IntN(10); {
				case op < 5: // append a random piece of the line text
					for len(pending) < 64 {
						line := strings.Repeat(fmt.Sprintf("l%d-", next), 1+rng.IntN(4))
						want = append(want, line)
						pending += line + "\n"
						next++
					}
					n := 1 + rng.IntN(40)
					tt.append(pending[:n])
					midLine = pending[n-1] != '\n'
					pending = pending[n:]
					unread = true
				case op < 8:
					poll()
				case op < 9:
					if !midLine && opened() {
						tt.rotate()
					}
				default:
					if !midLine && !unread && opened() {
						if err := os.Truncate(tt.path, 0); err != nil {
							t.Fatal(err)
						}
						poll()
					}
				}
			}
			tt.append(pending)
			poll()
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("got %d lines, want %d\ngot  %q\nwant %q", len(got), len(want), got, want)
			}
		})
	}
}
