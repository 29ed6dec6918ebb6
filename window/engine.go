package window

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/operators/aggregate"
	"github.com/conveyor-etl/conveyor/operators/order/gather"
)

// trash is the slot that receives the rows a window does not take (late
// rows, rows outside one of a sliding row's windows); it is reset after
// every batch and never emitted.
const trash = 0

// window is the state of one tumbling, sliding or explicit window: one
// slot per group key, in order of first appearance.
type window struct {
	start, end int64
	id         int64 // explicit count windows (window_id); 0 otherwise
	seq        int64
	slotOf     []int32 // by key id; 0: none yet
	slots      []int32
	gids       []int32
	fired      bool
	dirty      []int32 // slots updated since the last emission (emit = update)
}

type wkey struct{ start, end, id int64 }

// entry is one output row (one group of one window).
type entry struct {
	start, end int64
	id         int64
	gid, slot  int32
}

// rowRef locates one buffered input row (rows mode).
type rowRef struct{ src, row uint32 }

type held struct {
	b       arrow.RecordBatch
	pending int
	bytes   int64
}

// inputState is the event-time watermark of one input.
type inputState struct {
	max      int64 // max event time seen (none: no event yet)
	ended    bool
	idle     bool
	lastSeen time.Time
}

// engine is the window state machine shared by window.apply and
// aggregate.stream. It is driven by op.Run, one goroutine.
type engine struct {
	set       *settings
	mem       memory.Allocator
	batchSize int
	logger    interface{ Warn(string, ...any) }

	bind *binding
	keys *keys // nil without group_by
	accs []aggregate.SlotAccumulator

	// scratch
	ts      []int64
	gids    []int32
	slots   [][]int32
	late    []int32
	cols    []arrow.Array
	entries []entry

	// slots
	nslots    int32
	free      []int32
	dirtyFlag []bool
	redirect  []int32
	merges    [][2]int32 // dst, src (sessions)

	// rows mode
	refs    [][]rowRef
	held    map[uint32]*held
	nextSrc uint32
	heldB   int64

	// tumbling, sliding, explicit
	wins  map[wkey]*window
	seq   int64
	curs  []*window
	fired []*window

	sess sessions
	cnt  counts

	// watermarks (µs)
	wm     int64 // effective input watermark
	inband int64
	inputs []inputState
	outWM  int64
	now    time.Time
	rows   int64 // rows processed (tests)

	// Barriers (acknowledgement markers): each slot records the epoch it
	// was created in (the number of barriers received before); a barrier
	// is passed on once no slot of its epoch or an earlier one is open,
	// i.e. once every row received before it has been emitted.
	epoch     int64
	slotEpoch []int64
	openEp    map[int64]int
	lowEp     int64
	barriers  []pendingBarrier
}

type pendingBarrier struct {
	b     *flow.Barrier
	epoch int64
}

func newEngine(set *settings, env flow.BuildEnv) *engine {
	bs := env.BatchSize
	if bs <= 0 {
		bs = 65536
	}
	return &engine{set: set, mem: env.Alloc, batchSize: bs, wins: map[wkey]*window{}, held: map[uint32]*held{},
		wm: none, inband: none, outWM: none, nslots: 1, openEp: map[int64]int{}}
}

// ---- binding ----

func (e *engine) rebind(schema *arrow.Schema) error {
	if e.bind != nil && (e.bind.schema == schema || e.bind.schema.Equal(schema)) {
		return nil
	}
	b, err := e.set.bind(schema)
	if err != nil {
		return err
	}
	if e.bind != nil {
		if e.set.aggs == nil {
			return fmt.Errorf("%s: input schema changed from %s to %s: without aggregations every batch must have the same schema", e.set.stage, e.bind.schema, schema)
		}
		if !b.out.Equal(e.bind.out) || !slices.EqualFunc(b.keyTypes, e.bind.keyTypes, typeEqualNil) || !slices.EqualFunc(b.aggTypes, e.bind.aggTypes, typeEqualNil) {
			return fmt.Errorf("%s: input schema changed from %s to %s: the key and aggregated columns must keep their types", e.set.stage, e.bind.schema, schema)
		}
		e.bind = b
		return nil
	}
	e.bind = b
	if len(e.set.groupBy) > 0 {
		if e.keys, err = newKeys(e.mem, e.set.groupBy, b.keyTypes); err != nil {
			return fmt.Errorf("%s: group_by: %w", e.set.stage, err)
		}
	}
	if e.set.aggs != nil {
		for i, a := range e.set.aggs {
			e.accs = append(e.accs, aggregate.NewSlotAccumulator(a.Operation, b.aggTypes[i]))
		}
	}
	return nil
}

func typeEqualNil(a, b arrow.DataType) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return arrow.TypeEqual(a, b)
}

// ---- slots ----

func (e *engine) alloc() int32 {
	var s int32
	if n := len(e.free); n > 0 {
		s = e.free[n-1]
		e.free = e.free[:n-1]
	} else {
		s = e.nslots
		e.nslots++
	}
	if int(s) >= len(e.slotEpoch) {
		e.slotEpoch = grow(e.slotEpoch, int(s)+1)
	}
	e.slotEpoch[s] = e.epoch
	e.openEp[e.epoch]++
	return s
}

// inherit makes dst, which absorbs src (a session merge), hold src's rows:
// it takes the older of the two epochs.
func (e *engine) inherit(dst, src int32) {
	if ed, es := e.slotEpoch[dst], e.slotEpoch[src]; es < ed {
		e.closeEpoch(ed)
		e.slotEpoch[dst] = es
		e.openEp[es]++
	}
}

func (e *engine) closeEpoch(ep int64) {
	if n := e.openEp[ep] - 1; n > 0 {
		e.openEp[ep] = n
	} else {
		delete(e.openEp, ep)
	}
}

// barrier registers a barrier received after every row so far.
func (e *engine) barrier(b *flow.Barrier) {
	e.barriers = append(e.barriers, pendingBarrier{b, e.epoch})
	e.epoch++
}

// releaseBarriers passes on the barriers whose rows have all been emitted.
func (e *engine) releaseBarriers(ctx context.Context, st *flow.Stage) error {
	for e.lowEp < e.epoch && e.openEp[e.lowEp] == 0 {
		e.lowEp++
	}
	for len(e.barriers) > 0 && e.barriers[0].epoch < e.lowEp {
		b := e.barriers[0].b
		e.barriers = e.barriers[1:]
		if err := st.ForwardBarrier(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// release frees slot s (its state is reset).
func (e *engine) release(s int32) {
	e.closeEpoch(e.slotEpoch[s])
	for _, a := range e.accs {
		a.Reset(s)
	}
	if int(s) < len(e.dirtyFlag) {
		e.dirtyFlag[s] = false
	}
	if e.set.aggs == nil && int(s) < len(e.refs) {
		e.unref(e.refs[s])
		e.refs[s] = e.refs[s][:0]
		if cap(e.refs[s]) > 1024 {
			e.refs[s] = nil
		}
	}
	e.free = append(e.free, s)
}

func (e *engine) unref(refs []rowRef) {
	for _, r := range refs {
		h := e.held[r.src]
		h.pending--
		if h.pending == 0 {
			e.heldB -= h.bytes
			h.b.Release()
			delete(e.held, r.src)
		}
	}
}

func (e *engine) markDirty(w *window, s, g int32) {
	if int(s) >= len(e.dirtyFlag) {
		e.dirtyFlag = grow(e.dirtyFlag, int(e.nslots))
	}
	if !e.dirtyFlag[s] {
		e.dirtyFlag[s] = true
		w.dirty = append(w.dirty, g)
	}
}

func grow[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	if cap(s) >= n {
		return s[:n]
	}
	return append(s[:cap(s)], make([]T, n-cap(s))...)
}

// ---- windows ----

func (e *engine) window(start, end, id int64) *window {
	k := wkey{start, end, id}
	w := e.wins[k]
	if w == nil {
		e.seq++
		w = &window{start: start, end: end, id: id, seq: e.seq}
		e.wins[k] = w
	}
	return w
}

func (e *engine) slotIn(w *window, g int32) int32 {
	if int(g) >= len(w.slotOf) {
		n := int(g) + 1
		if e.keys != nil {
			n = max(n, e.keys.len())
		}
		w.slotOf = grow(w.slotOf, n)
	}
	s := w.slotOf[g]
	if s == 0 {
		s = e.alloc()
		w.slotOf[g] = s
		w.slots = append(w.slots, s)
		w.gids = append(w.gids, g)
	}
	if w.fired {
		e.markDirty(w, s, g)
	}
	return s
}

// due is when a window fires or is purged: at its end (emit = update,
// not fired yet) or at its end plus the allowed lateness.
func (e *engine) due(end int64, fired bool) int64 {
	if e.set.update && !fired {
		return end
	}
	return end + e.set.lateness
}

// ---- watermark ----

// candidate is the event-time watermark over the inputs: the minimum of
// max event time - delay over the inputs that neither ended nor are idle
// (none while one of them has seen no event).
func (e *engine) candidate(skip int) int64 {
	c := int64(endOfTime)
	active := false
	for i := range e.inputs {
		in := &e.inputs[i]
		if i == skip || in.ended || in.idle {
			continue
		}
		active = true
		if in.max == none {
			return none
		}
		c = min(c, in.max-e.set.delay)
	}
	if !active {
		if skip >= 0 {
			return endOfTime
		}
		// Every input that has not ended is idle: the largest of their
		// watermarks (as Flink does), so that a quiet stream still closes
		// its windows.
		c = none
		for i := range e.inputs {
			if in := &e.inputs[i]; !in.ended && in.max != none {
				c = max(c, in.max-e.set.delay)
			}
		}
		return c
	}
	return c
}

// advance recomputes the input watermark (it never goes back).
func (e *engine) advance() {
	w := e.inband
	if e.set.timeCol != "" {
		w = max(w, e.candidate(-1))
	}
	if e.set.procTime && e.set.kind != kCount {
		w = max(w, e.now.UnixMicro())
	}
	e.wm = max(e.wm, w)
}

// markIdle flags the inputs silent for idle_timeout at now; it reports
// whether one became idle.
func (e *engine) markIdle(now time.Time) bool {
	if e.set.idle <= 0 {
		return false
	}
	changed := false
	for i := range e.inputs {
		in := &e.inputs[i]
		if !in.ended && !in.idle && !now.Before(in.lastSeen.Add(e.set.idle)) {
			in.idle, changed = true, true
		}
	}
	return changed
}

// nextIdle is when the next input becomes idle (zero: never).
func (e *engine) nextIdle() time.Time {
	var next time.Time
	if e.set.idle <= 0 || len(e.inputs) < 2 {
		return next
	}
	for i := range e.inputs {
		in := &e.inputs[i]
		if in.ended || in.idle {
			continue
		}
		d := in.lastSeen.Add(e.set.idle)
		if next.IsZero() || d.Before(next) {
			next = d
		}
	}
	return next
}

// nextFire is the processing time at which a processing-time window
// fires (ok false: none open).
func (e *engine) nextFire() (int64, bool) {
	if !e.set.procTime || e.set.kind == kCount {
		return 0, false
	}
	d, ok := int64(endOfTime), false
	for _, w := range e.wins {
		d, ok = min(d, e.due(w.end, w.fired)), true
	}
	if t, has := e.sess.top(); has {
		d, ok = min(d, t), true
	}
	return d, ok
}

// ---- one batch ----

// times fills e.ts with the rows' times in µs (none for a null time).
func (e *engine) times(b arrow.RecordBatch, arrival time.Time) {
	n := int(b.NumRows())
	e.ts = grow(e.ts, n)[:n]
	ts := e.ts
	if e.bind.timeIdx < 0 {
		at := arrival.UnixMicro()
		for i := range ts {
			ts[i] = at
		}
		return
	}
	col := b.Column(e.bind.timeIdx)
	readTimes(col, e.bind.timeKind, e.bind.timeUnit, ts)
}

// readTimes converts a timestamp or integer epoch-ms column to µs.
func readTimes(col arrow.Array, k timeKind, unit arrow.TimeUnit, ts []int64) {
	d := col.Data()
	switch k {
	case tTimestamp:
		v := arrow.GetValues[int64](d, 1)
		switch unit {
		case arrow.Second:
			for i := range ts {
				ts[i] = v[i] * 1e6
			}
		case arrow.Millisecond:
			for i := range ts {
				ts[i] = v[i] * 1e3
			}
		case arrow.Microsecond:
			copy(ts, v)
		case arrow.Nanosecond:
			for i := range ts {
				x := v[i]
				q := x / 1e3
				if x%1e3 < 0 {
					q--
				}
				ts[i] = q
			}
		}
	case tEpochMS:
		switch col.DataType().ID() {
		case arrow.INT64:
			v := arrow.GetValues[int64](d, 1)
			for i := range ts {
				ts[i] = v[i] * 1e3
			}
		case arrow.INT32:
			v := arrow.GetValues[int32](d, 1)
			for i := range ts {
				ts[i] = int64(v[i]) * 1e3
			}
		default:
			for i := range ts {
				ts[i] = intAt(col, i) * 1e3
			}
		}
	}
	if col.NullN() > 0 {
		for i := range ts {
			if col.IsNull(i) {
				ts[i] = none
			}
		}
	}
}

func intAt(a arrow.Array, i int) int64 {
	switch x := a.(type) {
	case *array.Int8:
		return int64(x.Value(i))
	case *array.Int16:
		return int64(x.Value(i))
	case *array.Int32:
		return int64(x.Value(i))
	case *array.Int64:
		return x.Value(i)
	case *array.Uint8:
		return int64(x.Value(i))
	case *array.Uint16:
		return int64(x.Value(i))
	case *array.Uint32:
		return int64(x.Value(i))
	case *array.Uint64:
		return int64(x.Value(i))
	}
	return 0
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// process folds one input batch into the windows. It routes late rows to
// the late port and rejects rows without a time.
func (e *engine) process(ctx context.Context, st *flow.Stage, b arrow.RecordBatch, input int, arrival time.Time) error {
	n := int(b.NumRows())
	if n == 0 {
		return nil
	}
	if err := e.rebind(b.Schema()); err != nil {
		return err
	}
	e.now = arrival
	e.rows += int64(n)
	if e.set.kind == kExplicit {
		e.explicitTimes(b)
	} else {
		e.times(b, arrival)
	}
	e.gids = grow(e.gids, n)[:n]
	if e.keys != nil {
		if err := e.keys.insert(b, e.bind.keyIdx, e.gids); err != nil {
			return fmt.Errorf("%s: group_by: %w", e.set.stage, err)
		}
	} else {
		clear(e.gids)
	}
	k := 1
	if e.set.kind == kSliding {
		k = int((e.set.size + e.set.slide - 1) / e.set.slide)
	}
	for len(e.slots) < k {
		e.slots = append(e.slots, nil)
	}
	for j := range k {
		e.slots[j] = grow(e.slots[j], n)[:n]
	}
	e.late = e.late[:0]
	e.merges = e.merges[:0]

	// The watermark as of each row: the other inputs' candidate is fixed
	// during the batch, this input's running max moves.
	other := int64(endOfTime)
	in := &e.inputs[input]
	if e.set.timeCol != "" {
		other = e.candidate(input)
	}
	runMax := in.max

	var err error
	switch e.set.kind {
	case kTumbling, kExplicit:
		runMax = e.assignFixed(runMax, other)
	case kSliding:
		runMax = e.assignSliding(runMax, other, k)
	case kSession:
		runMax = e.assignSessions(runMax, other)
	case kCount:
		e.assignCount()
	}
	if e.set.timeCol != "" {
		in.max = runMax
	}
	// Rows without a time.
	if e.set.timeCol != "" || e.set.kind == kExplicit {
		for i, t := range e.ts {
			if t == none {
				if err = st.Reject(ctx, flow.Rejection{Err: fmt.Errorf("%s: %w", e.set.stage, errNullTime(e.set)), Row: batch.Row(b, i)}); err != nil {
					return err
				}
			}
		}
	}
	e.applyMerges()
	if e.set.aggs != nil {
		for j := range k {
			for i, a := range e.accs {
				var col arrow.Array
				if idx := e.bind.aggIdx[i]; idx >= 0 {
					col = b.Column(idx)
				}
				a.Update(col, e.slots[j], int(e.nslots))
			}
		}
		for _, a := range e.accs {
			a.Reset(trash)
		}
	} else {
		e.hold(b, k)
	}
	for _, m := range e.merges {
		e.inherit(m[0], m[1])
		e.release(m[1])
	}
	if len(e.late) > 0 {
		st.Metrics().LateRows.Add(int64(len(e.late)))
		lb, err := takeRows(e.mem, b, e.late)
		if err != nil {
			return err
		}
		if err := st.EmitPort(ctx, PortLate, lb); err != nil {
			return err
		}
	}
	if e.set.kind == kCount {
		return e.emitCount(ctx, st)
	}
	return nil
}

func errNullTime(s *settings) error {
	if s.kind == kExplicit {
		return fmt.Errorf("%s or %s is null", ColStart, ColEnd)
	}
	return fmt.Errorf("time_column %q is null", s.timeCol)
}

// explicitTimes reads window_end into e.ts (window_start into e.starts).
func (e *engine) explicitTimes(b arrow.RecordBatch) {
	n := int(b.NumRows())
	e.ts = grow(e.ts, n)[:n]
	e.cnt.starts = grow(e.cnt.starts, n)[:n]
	e.cnt.ids = grow(e.cnt.ids, n)[:n]
	read := func(idx int, dst []int64) {
		col := b.Column(idx)
		if isTime(col.DataType()) {
			readTimes(col, tTimestamp, col.DataType().(*arrow.TimestampType).Unit, dst)
		} else {
			readTimes(col, tEpochMS, 0, dst)
		}
	}
	read(e.bind.endIdx, e.ts)
	read(e.bind.startIdx, e.cnt.starts)
	for i, s := range e.cnt.starts {
		if s == none {
			e.ts[i] = none
		}
	}
	if e.bind.idIdx >= 0 {
		col := b.Column(e.bind.idIdx)
		for i := range e.cnt.ids {
			if col.IsValid(i) {
				e.cnt.ids[i] = intAt(col, i)
			} else {
				e.cnt.ids[i] = 0
			}
		}
	} else {
		clear(e.cnt.ids)
	}
}

// assignFixed assigns tumbling and explicit windows.
func (e *engine) assignFixed(runMax, other int64) int64 {
	size, L, delay := e.set.size, e.set.lateness, e.set.delay
	wr := e.wm
	event := e.set.timeCol != ""
	explicit := e.set.kind == kExplicit
	slots := e.slots[0]
	var cur *window
	curKey := wkey{none, none, 0}
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
		var k wkey
		if explicit {
			k = wkey{e.cnt.starts[i], t, e.cnt.ids[i]}
		} else {
			s := t - floorMod(t, size)
			k = wkey{s, s + size, 0}
		}
		if k != curKey {
			if wr != none && k.end+L <= wr && !(explicit && k.id != 0) {
				e.late = append(e.late, int32(i))
				slots[i] = trash
				continue
			}
			cur, curKey = e.window(k.start, k.end, k.id), k
		} else if cur == nil {
			e.late = append(e.late, int32(i))
			slots[i] = trash
			continue
		}
		slots[i] = e.slotIn(cur, e.gids[i])
	}
	return runMax
}

// assignSliding assigns each row to the size/slide windows containing it.
func (e *engine) assignSliding(runMax, other int64, k int) int64 {
	size, slide, L, delay := e.set.size, e.set.slide, e.set.lateness, e.set.delay
	wr := e.wm
	event := e.set.timeCol != ""
	e.curs = grow(e.curs, k)[:k]
	clear(e.curs)
	for i, t := range e.ts {
		if t == none {
			for j := range k {
				e.slots[j][i] = trash
			}
			continue
		}
		if event && t > runMax {
			runMax = t
			if c := min(other, t-delay); c > wr {
				wr = c
			}
		}
		last := t - floorMod(t, slide)
		took := false
		for j := range k {
			start := last - int64(j)*slide
			end := start + size
			if end <= t || (wr != none && end+L <= wr) {
				e.slots[j][i] = trash
				continue
			}
			w := e.curs[j]
			if w == nil || w.start != start {
				w = e.window(start, end, 0)
				e.curs[j] = w
			}
			e.slots[j][i] = e.slotIn(w, e.gids[i])
			took = true
		}
		if !took {
			e.late = append(e.late, int32(i))
		}
	}
	return runMax
}

// ---- emission ----

// fire emits (and releases) what the watermark wm completes; all: every
// open window (end of input).
func (e *engine) fire(ctx context.Context, st *flow.Stage, wm int64, all bool) error {
	if err := e.emitDirty(ctx, st); err != nil {
		return err
	}
	switch e.set.kind {
	case kSession:
		return e.fireSessions(ctx, st, wm, all)
	case kCount:
		if all {
			return e.flushCount(ctx, st)
		}
		return nil
	}
	e.fired = e.fired[:0]
	for _, w := range e.wins {
		if all || w.id != 0 || (wm != none && e.due(w.end, w.fired) <= wm) {
			e.fired = append(e.fired, w)
		}
	}
	if len(e.fired) == 0 {
		return nil
	}
	slices.SortFunc(e.fired, func(a, b *window) int {
		if a.end != b.end {
			return cmpInt(a.end, b.end)
		}
		if a.start != b.start {
			return cmpInt(a.start, b.start)
		}
		return cmpInt(a.seq, b.seq)
	})
	e.entries = e.entries[:0]
	for _, w := range e.fired {
		if !w.fired {
			for j, s := range w.slots {
				e.entries = append(e.entries, entry{w.start, w.end, w.id, w.gids[j], s})
			}
		}
	}
	if err := e.emit(ctx, st, e.entries); err != nil {
		return err
	}
	for _, w := range e.fired {
		w.fired = true
		if all || w.id != 0 || e.due(w.end, true) <= wm {
			for _, s := range w.slots {
				e.release(s)
			}
			delete(e.wins, wkey{w.start, w.end, w.id})
		} else {
			// emit = update: the window stays until the lateness passes;
			// in rows mode its rows are out, later rows go on their own.
			for _, s := range w.slots {
				e.dropRows(s)
			}
		}
	}
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// emitDirty re-emits the groups of fired windows that late rows updated
// (emit = update).
func (e *engine) emitDirty(ctx context.Context, st *flow.Stage) error {
	if !e.set.update {
		return nil
	}
	e.entries = e.entries[:0]
	if e.set.kind == kSession {
		e.sess.dirtyEntries(e)
	} else {
		e.fired = e.fired[:0]
		for _, w := range e.wins {
			if len(w.dirty) > 0 {
				e.fired = append(e.fired, w)
			}
		}
		slices.SortFunc(e.fired, func(a, b *window) int {
			if a.end != b.end {
				return cmpInt(a.end, b.end)
			}
			return cmpInt(a.start, b.start)
		})
		for _, w := range e.fired {
			for _, g := range w.dirty {
				s := w.slotOf[g]
				e.entries = append(e.entries, entry{w.start, w.end, w.id, g, s})
				e.dirtyFlag[s] = false
			}
			w.dirty = w.dirty[:0]
		}
	}
	if len(e.entries) == 0 {
		return nil
	}
	if err := e.emit(ctx, st, e.entries); err != nil {
		return err
	}
	for _, en := range e.entries {
		e.dropRows(en.slot)
	}
	return nil
}

// emit builds and sends the output rows of entries, in batches.
func (e *engine) emit(ctx context.Context, st *flow.Stage, entries []entry) error {
	if e.set.aggs == nil {
		return e.emitRows(ctx, st, entries)
	}
	for lo := 0; lo < len(entries); lo += e.batchSize {
		part := entries[lo:min(lo+e.batchSize, len(entries))]
		b, err := e.build(part)
		if err != nil {
			return err
		}
		if err := st.Emit(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

func (e *engine) build(part []entry) (arrow.RecordBatch, error) {
	n := len(part)
	starts := make([]int64, n)
	ends := make([]int64, n)
	gids := make([]int32, n)
	slots := make([]int32, n)
	for i, en := range part {
		starts[i], ends[i], gids[i], slots[i] = en.start, en.end, en.gid, en.slot
	}
	cols := []arrow.Array{tsArray(e.mem, starts), tsArray(e.mem, ends)}
	if e.keys != nil {
		kc, err := e.keys.gather(gids)
		if err != nil {
			for _, c := range cols {
				c.Release()
			}
			return nil, err
		}
		cols = append(cols, kc...)
	}
	for _, a := range e.accs {
		cols = append(cols, a.Gather(e.mem, slots))
	}
	b := array.NewRecordBatch(e.bind.out, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return b, nil
}

func tsArray(mem memory.Allocator, v []int64) arrow.Array {
	b := array.NewTimestampBuilder(mem, batch.Timestamp.(*arrow.TimestampType))
	defer b.Release()
	b.Reserve(len(v))
	for _, x := range v {
		b.UnsafeAppend(arrow.Timestamp(x))
	}
	return b.NewArray()
}

func int64Array(mem memory.Allocator, v []int64) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(v, nil)
	return b.NewArray()
}

// ---- rows mode ----

// hold buffers the rows assigned to windows (rows mode).
func (e *engine) hold(b arrow.RecordBatch, k int) {
	src := e.nextSrc
	e.nextSrc++
	h := &held{b: b}
	e.refs = grow(e.refs, int(e.nslots))
	for j := range k {
		for i, s := range e.slots[j] {
			if s != trash {
				e.refs[s] = append(e.refs[s], rowRef{src, uint32(i)})
				h.pending++
			}
		}
	}
	if h.pending > 0 {
		b.Retain()
		h.bytes = batchBytes(b)
		e.heldB += h.bytes
		e.held[src] = h
	}
}

func batchBytes(b arrow.RecordBatch) int64 {
	var n int64
	for _, c := range b.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
	}
	return n
}

// emitRows emits the buffered rows of each entry's slot with the window
// columns appended.
func (e *engine) emitRows(ctx context.Context, st *flow.Stage, entries []entry) error {
	var srcs []arrow.RecordBatch
	pos := map[uint32]uint32{}
	var src, row []uint32
	var starts, ends, ids []int64
	flush := func() error {
		if len(src) == 0 {
			return nil
		}
		g := gather.New(e.mem, e.bind.schema, srcs)
		defer g.Release()
		in, err := g.Gather(src, row)
		if err != nil {
			return err
		}
		cols := append([]arrow.Array{}, in.Columns()...)
		extra := []arrow.Array{tsArray(e.mem, starts), tsArray(e.mem, ends)}
		if e.set.kind == kCount {
			extra = append(extra, int64Array(e.mem, ids))
		}
		cols = append(cols, extra...)
		out := array.NewRecordBatch(e.bind.out, cols, int64(len(src)))
		in.Release()
		for _, c := range extra {
			c.Release()
		}
		src, row, starts, ends, ids = src[:0], row[:0], starts[:0], ends[:0], ids[:0]
		clear(pos)
		srcs = srcs[:0]
		return st.Emit(ctx, out)
	}
	for _, en := range entries {
		if int(en.slot) >= len(e.refs) {
			continue
		}
		for _, r := range e.refs[en.slot] {
			p, ok := pos[r.src]
			if !ok {
				p = uint32(len(srcs))
				pos[r.src] = p
				srcs = append(srcs, e.held[r.src].b)
			}
			src = append(src, p)
			row = append(row, r.row)
			starts = append(starts, en.start)
			ends = append(ends, en.end)
			ids = append(ids, en.id)
		}
		// A count window stays in one batch (aggregate.stream relies on
		// it); other windows may be split.
		if len(src) >= e.batchSize && e.set.kind != kCount {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// takeRows returns rows idx of b.
func takeRows(mem memory.Allocator, b arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	g := gather.New(mem, b.Schema(), []arrow.RecordBatch{b})
	defer g.Release()
	src := make([]uint32, len(idx))
	row := make([]uint32, len(idx))
	for i, r := range idx {
		row[i] = uint32(r)
	}
	return g.Gather(src, row)
}

// ---- bookkeeping ----

func (e *engine) stateBytes() int64 {
	var n int64
	if e.keys != nil {
		n += e.keys.bytes()
	}
	for _, a := range e.accs {
		n += a.Bytes()
	}
	for _, w := range e.wins {
		n += int64(cap(w.slotOf)+cap(w.slots)+cap(w.gids)+cap(w.dirty))*4 + 96
	}
	n += e.sess.bytes() + e.cnt.bytes()
	n += int64(cap(e.refs)) * 24
	for _, r := range e.refs {
		n += int64(cap(r)) * 8
	}
	return n + e.heldB + int64(cap(e.ts))*8 + int64(cap(e.gids))*4
}

func (e *engine) notePeak(st *flow.Stage) {
	b := e.stateBytes()
	m := &st.Metrics().PeakBytes
	for {
		old := m.Load()
		if b <= old || m.CompareAndSwap(old, b) {
			return
		}
	}
}

// empty reports whether no window state is held.
func (e *engine) empty() bool {
	return len(e.wins) == 0 && e.sess.live == 0 && e.cnt.open == 0
}

// compactKeys drops the key table when no window holds state and it has
// grown large, so that a stream of ever-new keys (sessions per user) does
// not keep every key it ever saw.
func (e *engine) compactKeys() {
	if e.keys == nil || !e.empty() || e.keys.len() < 1<<16 {
		return
	}
	k, err := newKeys(e.mem, e.set.groupBy, e.bind.keyTypes)
	if err != nil {
		return
	}
	e.keys.release()
	e.keys = k
	e.sess.head = e.sess.head[:0]
	e.cnt.reset()
}

// close releases everything.
func (e *engine) close() {
	for _, h := range e.held {
		h.b.Release()
	}
	e.held = map[uint32]*held{}
	if e.keys != nil {
		e.keys.release()
	}
	e.wins = map[wkey]*window{}
}

// dropAll releases the open windows without emitting them (drain with
// on_shutdown = "drop"); it returns how many windows it dropped.
func (e *engine) dropAll() int {
	n := len(e.wins) + e.sess.live + e.cnt.open
	e.wins = map[wkey]*window{}
	return n
}
