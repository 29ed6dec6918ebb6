package window

import (
	"context"
	"slices"

	"github.com/conveyor-etl/conveyor/flow"
)

// sessions holds the open session windows: per key a short linked list of
// sessions (usually one), and a min-heap of the times at which sessions
// fire, checked lazily (an entry whose session grew since is pushed again
// with the new time).
type sessions struct {
	ss        []session
	dirtyList []int32
	free      []int32
	head      []int32 // by key id: first session +1 (0: none)
	heap      []hent
	fifo      []hent
	fhead     int
	live      int
	nseq      int64
	list      []int32
	ov        []int32
}

// session is one open session (one cache line).
type session struct {
	start, end int64 // end = last event time + gap
	gid, slot  int32
	next       int32 // next session of the same key, +1 (0: none)
	seq        uint32
	fired      bool
	alive      bool
	dirty      bool
	inList     bool
}

type hent struct {
	due int64
	id  int32
	seq uint32 // the session's seq when pushed (ids are reused)
}

func (s *sessions) create(g int32, start, end int64, slot int32) int32 {
	var id int32
	if n := len(s.free); n > 0 {
		id = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		id = int32(len(s.ss))
		s.ss = append(s.ss, session{})
	}
	s.nseq++
	s.ss[id] = session{start: start, end: end, gid: g, slot: slot, next: s.head[g], seq: uint32(s.nseq), alive: true}
	s.head[g] = id + 1
	s.live++
	return id
}

func (s *sessions) remove(id int32) {
	g := s.ss[id].gid
	if s.head[g] == id+1 {
		s.head[g] = s.ss[id].next
	} else {
		for p := s.head[g] - 1; p >= 0; p = s.ss[p].next - 1 {
			if s.ss[p].next == id+1 {
				s.ss[p].next = s.ss[id].next
				break
			}
		}
	}
	s.ss[id].alive = false
	s.live--
	s.free = append(s.free, id)
}

// push schedules session id at due. Dues that do not go back (sorted
// input: each new session ends after the previous ones) go to a FIFO,
// O(1); the others to a binary heap. The next due is the smaller of the
// two fronts.
func (s *sessions) push(due int64, id int32) {
	h := hent{due, id, s.ss[id].seq}
	if n := len(s.fifo); s.fhead == n || s.fifo[n-1].due <= due {
		s.fifo = append(s.fifo, h)
		return
	}
	s.heap = append(s.heap, h)
	i := len(s.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s.heap[p].due <= s.heap[i].due {
			break
		}
		s.heap[p], s.heap[i] = s.heap[i], s.heap[p]
		i = p
	}
}

// pop removes the entry with the smallest due (top reported one).
func (s *sessions) pop() hent {
	if s.fhead < len(s.fifo) && (len(s.heap) == 0 || s.fifo[s.fhead].due <= s.heap[0].due) {
		h := s.fifo[s.fhead]
		s.fhead++
		if s.fhead == len(s.fifo) {
			s.fifo, s.fhead = s.fifo[:0], 0
		} else if s.fhead >= 4096 && s.fhead*2 >= len(s.fifo) {
			n := copy(s.fifo, s.fifo[s.fhead:])
			s.fifo, s.fhead = s.fifo[:n], 0
		}
		return h
	}
	h := s.heap[0]
	n := len(s.heap) - 1
	s.heap[0] = s.heap[n]
	s.heap = s.heap[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s.heap[r].due < s.heap[l].due {
			m = r
		}
		if s.heap[i].due <= s.heap[m].due {
			break
		}
		s.heap[i], s.heap[m] = s.heap[m], s.heap[i]
		i = m
	}
	return h
}

func (s *sessions) top() (int64, bool) {
	switch {
	case s.fhead < len(s.fifo) && len(s.heap) > 0:
		return min(s.fifo[s.fhead].due, s.heap[0].due), true
	case s.fhead < len(s.fifo):
		return s.fifo[s.fhead].due, true
	case len(s.heap) > 0:
		return s.heap[0].due, true
	}
	return 0, false
}

func (s *sessions) bytes() int64 {
	return int64(cap(s.ss))*40 + int64(cap(s.free)+cap(s.head)+cap(s.dirtyList))*4 + int64(cap(s.heap)+cap(s.fifo))*16
}

// assignSessions assigns each row to its key's session, creating,
// extending and merging sessions.
func (e *engine) assignSessions(runMax, other int64) int64 {
	gap, L, delay := e.set.gap, e.set.lateness, e.set.delay
	wr := e.wm
	event := e.set.timeCol != ""
	s := &e.sess
	slots := e.slots[0]
	nk := 1
	if e.keys != nil {
		nk = e.keys.len()
	}
	s.head = grow(s.head, nk)
	for i, t := range e.ts {
		if t == none {
			slots[i] = trash
			continue
		}
		if event && t > runMax {
			runMax = t
			if c := min(other, t-delay); c > wr {
				wr = c
			}
		}
		g := e.gids[i]
		hi := t + gap
		// Fast path: the key's only session covers the row.
		if id := s.head[g] - 1; id >= 0 && s.ss[id].next == 0 && s.ss[id].start <= t && hi <= s.ss[id].end && (wr == none || s.ss[id].end+L > wr) {
			slots[i] = s.ss[id].slot
			if s.ss[id].fired {
				s.markDirty(id)
			}
			continue
		}
		s.ov = s.ov[:0]
		for id := s.head[g] - 1; id >= 0; id = s.ss[id].next - 1 {
			// A session the watermark completed (even if not emitted
			// yet) takes no more rows.
			if s.ss[id].start < hi && t < s.ss[id].end && (wr == none || s.ss[id].end+L > wr) {
				s.ov = append(s.ov, id)
			}
		}
		if len(s.ov) == 0 {
			if wr != none && hi+L <= wr {
				e.late = append(e.late, int32(i))
				slots[i] = trash
				continue
			}
			id := s.create(g, t, hi, e.alloc())
			slots[i] = s.ss[id].slot
			s.push(e.due(hi, false), id)
			continue
		}
		dst := s.ov[0]
		for _, id := range s.ov[1:] {
			if s.ss[id].seq < s.ss[dst].seq {
				dst = id
			}
		}
		nstart, nend := min(t, s.ss[dst].start), max(hi, s.ss[dst].end)
		for _, id := range s.ov {
			if id == dst {
				continue
			}
			nstart, nend = min(nstart, s.ss[id].start), max(nend, s.ss[id].end)
			e.redirect = grow(e.redirect, int(e.nslots))
			e.merges = append(e.merges, [2]int32{s.ss[dst].slot, s.ss[id].slot})
			e.redirect[s.ss[id].slot] = s.ss[dst].slot
			s.remove(id)
		}
		grew := nend != s.ss[dst].end
		s.ss[dst].start, s.ss[dst].end = nstart, nend
		if s.ss[dst].fired {
			if grew {
				// The session is open again: it fires anew when the
				// watermark passes its new end.
				s.ss[dst].fired = false
				s.push(e.due(nend, false), dst)
			} else {
				s.markDirty(dst)
			}
		}
		slots[i] = s.ss[dst].slot
	}
	return runMax
}

func (s *sessions) markDirty(id int32) {
	if !s.ss[id].dirty {
		s.ss[id].dirty = true
		s.dirtyList = append(s.dirtyList, id)
	}
}

// applyMerges folds the state of merged sessions into the surviving ones
// (before the batch's rows are folded in) and points the batch's rows at
// the surviving slots.
func (e *engine) applyMerges() {
	if len(e.merges) == 0 {
		return
	}
	for _, m := range e.merges {
		for _, a := range e.accs {
			a.Merge(m[0], m[1])
		}
		if e.set.aggs == nil && int(m[1]) < len(e.refs) {
			e.refs = grow(e.refs, int(e.nslots))
			e.refs[m[0]] = append(e.refs[m[0]], e.refs[m[1]]...)
			e.refs[m[1]] = e.refs[m[1]][:0]
		}
	}
	for j := range e.slots {
		sl := e.slots[j]
		for i, s := range sl {
			for int(s) < len(e.redirect) && e.redirect[s] != 0 {
				s = e.redirect[s]
			}
			sl[i] = s
		}
	}
	for _, m := range e.merges {
		e.redirect[m[1]] = 0
	}
}

// dirtyEntries lists the sessions updated after they fired.
func (s *sessions) dirtyEntries(e *engine) {
	start := len(e.entries)
	for _, id := range s.dirtyList {
		if s.ss[id].alive && s.ss[id].dirty && s.ss[id].fired {
			e.entries = append(e.entries, entry{s.ss[id].start, s.ss[id].end, 0, s.ss[id].gid, s.ss[id].slot})
		}
		s.ss[id].dirty = false
	}
	s.dirtyList = s.dirtyList[:0]
	sortEntries(e.entries[start:])
}

// sortEntries orders sessions by end, start, then key (first appearance);
// two sessions of one key never share an end.
func sortEntries(es []entry) {
	cmp := func(a, b entry) int {
		if a.end != b.end {
			return cmpInt(a.end, b.end)
		}
		if a.start != b.start {
			return cmpInt(a.start, b.start)
		}
		return int(a.gid) - int(b.gid)
	}
	if !slices.IsSortedFunc(es, cmp) {
		slices.SortFunc(es, cmp)
	}
}

// fireSessions emits the sessions the watermark completed.
func (e *engine) fireSessions(ctx context.Context, st *flow.Stage, wm int64, all bool) error {
	s := &e.sess
	s.list = s.list[:0]
	if all {
		for id := range s.ss {
			if s.ss[id].alive {
				s.list = append(s.list, int32(id))
			}
		}
		s.heap, s.fifo, s.fhead = s.heap[:0], s.fifo[:0], 0
	} else if wm != none {
		for {
			if d, ok := s.top(); !ok || d > wm {
				break
			}
			h := s.pop()
			if !s.ss[h.id].alive || s.ss[h.id].seq != h.seq || s.ss[h.id].inList {
				continue
			}
			if d := e.due(s.ss[h.id].end, s.ss[h.id].fired); d != h.due {
				// The session grew since: schedule it at its own time, so
				// that sessions come out in order of end.
				s.push(d, h.id)
				continue
			}
			s.ss[h.id].inList = true
			s.list = append(s.list, h.id)
		}
	}
	if len(s.list) == 0 {
		return nil
	}
	e.entries = e.entries[:0]
	for _, id := range s.list {
		s.ss[id].inList = false
		if !s.ss[id].fired {
			e.entries = append(e.entries, entry{s.ss[id].start, s.ss[id].end, 0, s.ss[id].gid, s.ss[id].slot})
		}
	}
	sortEntries(e.entries)
	if err := e.emit(ctx, st, e.entries); err != nil {
		return err
	}
	for _, id := range s.list {
		if all || e.due(s.ss[id].end, true) <= wm {
			e.release(s.ss[id].slot)
			s.remove(id)
			continue
		}
		s.ss[id].fired = true
		e.dropRows(s.ss[id].slot)
		s.push(e.due(s.ss[id].end, true), id)
	}
	return nil
}

// dropRows forgets the buffered rows of slot s once emitted (rows mode,
// emit = update: later rows are emitted on their own).
func (e *engine) dropRows(s int32) {
	if e.set.aggs == nil && int(s) < len(e.refs) {
		e.unref(e.refs[s])
		e.refs[s] = e.refs[s][:0]
	}
}

// ---- count windows ----

// counts holds the open count window of each key.
type counts struct {
	slot        []int32 // by key id (0: none)
	n           []int32
	first, last []int64
	done        []entry
	open        int
	nextID      int64
	starts, ids []int64 // scratch for explicit windows
}

func (c *counts) reset() { c.slot, c.n, c.first, c.last = c.slot[:0], c.n[:0], c.first[:0], c.last[:0] }

func (c *counts) bytes() int64 {
	return int64(cap(c.slot)+cap(c.n))*4 + int64(cap(c.first)+cap(c.last)+cap(c.starts)+cap(c.ids))*8 + int64(cap(c.done))*32
}

func (e *engine) assignCount() {
	c := &e.cnt
	nk := 1
	if e.keys != nil {
		nk = e.keys.len()
	}
	c.slot, c.n, c.first, c.last = grow(c.slot, nk), grow(c.n, nk), grow(c.first, nk), grow(c.last, nk)
	size := int32(e.set.count)
	slots := e.slots[0]
	for i, t := range e.ts {
		if t == none {
			slots[i] = trash
			continue
		}
		g := e.gids[i]
		s := c.slot[g]
		if s == 0 {
			s = e.alloc()
			c.slot[g], c.n[g], c.first[g] = s, 0, t
			c.open++
		}
		slots[i] = s
		c.n[g]++
		c.last[g] = t
		if c.n[g] == size {
			c.nextID++
			c.done = append(c.done, entry{c.first[g], t, c.nextID, g, s})
			c.slot[g] = 0
			c.open--
		}
	}
}

// emitCount emits the count windows completed by the last batch.
func (e *engine) emitCount(ctx context.Context, st *flow.Stage) error {
	c := &e.cnt
	if len(c.done) == 0 {
		return nil
	}
	err := e.emit(ctx, st, c.done)
	for _, en := range c.done {
		e.release(en.slot)
	}
	c.done = c.done[:0]
	return err
}

// flushCount emits the partial count windows (end of input), in order of
// first appearance of the key.
func (e *engine) flushCount(ctx context.Context, st *flow.Stage) error {
	c := &e.cnt
	for g, s := range c.slot {
		if s != 0 {
			c.nextID++
			c.done = append(c.done, entry{c.first[g], c.last[g], c.nextID, int32(g), s})
			c.slot[g] = 0
			c.open--
		}
	}
	return e.emitCount(ctx, st)
}
