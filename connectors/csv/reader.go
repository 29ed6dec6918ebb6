package csvconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

const (
	defaultChunkBytes     = 8 << 20
	defaultMaxRecordBytes = 64 << 20
	maxSampleBytes        = 64 << 20
)

// ErrRecordTooLong is returned when one record exceeds the reader's limit
// (64 MiB), which usually means an unterminated quote.
var ErrRecordTooLong = errors.New("record too long (unterminated quote?)")

// feeder is the buffered front of an input: buf holds read, unconsumed
// bytes.
type feeder struct {
	r    io.Reader
	buf  []byte
	eof  bool
	err  error
	read *atomic.Int64
}

// fill reads until buf holds want bytes or the input ends.
func (f *feeder) fill(want int) error {
	if want > cap(f.buf) {
		nb := make([]byte, len(f.buf), want)
		copy(nb, f.buf)
		f.buf = nb
	}
	for len(f.buf) < want && !f.eof {
		n, err := f.r.Read(f.buf[len(f.buf):want])
		f.buf = f.buf[:len(f.buf)+n]
		if f.read != nil {
			f.read.Add(int64(n))
		}
		if err != nil {
			f.eof = true
			if err != io.EOF {
				f.err = err
			}
		}
	}
	return f.err
}

// recordAt returns the end of the record starting at buf[pos], reading as
// needed; at the end of input it returns len(buf).
func (f *feeder) recordAt(sc *scanner, pos, limit int) (int, error) {
	for {
		if n := sc.recordEnd(f.buf[pos:]); n >= 0 {
			return pos + n, nil
		}
		if f.eof {
			return len(f.buf), f.err
		}
		if len(f.buf)-pos > limit {
			return 0, ErrRecordTooLong
		}
		if err := f.fill(max(2*len(f.buf), len(f.buf)+64<<10)); err != nil {
			return 0, err
		}
	}
}

// probeResult is what the start of one input says: its columns and, when
// sampled, their inferred types.
type probeResult struct {
	names []string
	types []arrow.DataType // nil entry: no non-null sample
	line  int64            // line number of the first byte after the header
}

type reader struct {
	opts  ReadOptions
	sc    scanner
	mem   memory.Allocator
	nullE bool // "" is null
	nullO [][]byte
}

func newReader(opts ReadOptions, mem memory.Allocator) (*reader, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 65536
	}
	if opts.chunkBytes <= 0 {
		opts.chunkBytes = defaultChunkBytes
	}
	if opts.maxRecordBytes <= 0 {
		opts.maxRecordBytes = defaultMaxRecordBytes
	}
	if opts.workers <= 0 {
		opts.workers = runtime.GOMAXPROCS(0)
	}
	rd := &reader{opts: opts, mem: mem,
		sc: scanner{delim: byte(opts.Delimiter), quote: byte(opts.Quote), comment: byte(opts.Comment)}}
	for _, v := range opts.NullValues {
		if v == "" {
			rd.nullE = true
		} else {
			rd.nullO = append(rd.nullO, []byte(v))
		}
	}
	return rd, nil
}

func (rd *reader) isNull(b []byte) bool {
	if len(b) == 0 {
		return rd.nullE
	}
	for _, v := range rd.nullO {
		if bytes.Equal(b, v) {
			return true
		}
	}
	return false
}

func (rd *reader) needInference() bool {
	return len(rd.opts.Schema) == 0 || rd.opts.HasHeader // a header may name unlisted columns
}

// probe consumes the skipped lines and the header of f, and samples (without
// consuming) up to InferRows records when sample is set.
func (rd *reader) probe(f *feeder, name string, sample bool) (*probeResult, error) {
	pr := &probeResult{line: 1}
	if err := f.fill(64 << 10); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	f.buf = bytes.TrimPrefix(f.buf, []byte("\xef\xbb\xbf"))
	lines := scanner{}
	for range rd.opts.SkipRows {
		end, err := f.recordAt(&lines, 0, rd.opts.maxRecordBytes)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if end == 0 {
			break
		}
		f.buf = f.buf[end:]
		pr.line++
	}
	var fields [][]byte
	var esc []byte
	split := func(rec []byte) error {
		var err error
		if rd.sc.quote != 0 {
			fields, esc, err = rd.sc.splitQuoted(rec, fields, esc)
		} else {
			fields = rd.sc.splitPlain(rec, fields)
		}
		return err
	}
	// The first meaningful record: the header, or the first data record of
	// a header-less input (which fixes the number of columns).
	pos := 0
	line := pr.line
	for {
		end, err := f.recordAt(&rd.sc, pos, rd.opts.maxRecordBytes)
		if err != nil {
			return nil, fmt.Errorf("reading %s:%d: %w", name, line, err)
		}
		if end == pos {
			return pr, nil // empty input
		}
		rec := f.buf[pos:end]
		body := trimEOL(rec)
		nl := int64(bytes.Count(rec, []byte{'\n'}))
		if len(body) == 0 || (rd.sc.comment != 0 && body[0] == rd.sc.comment) {
			pos, line = end, line+nl
			continue
		}
		if err := split(body); err != nil {
			return nil, fmt.Errorf("%s:%d: header: %w", name, line, err)
		}
		if rd.opts.HasHeader {
			pr.names = headerNames(fields)
			f.buf = f.buf[end:]
			pr.line = line + nl
		} else {
			pr.names = rd.generatedNames(len(fields))
			f.buf = f.buf[pos:]
			pr.line = line
		}
		break
	}
	pr.types = make([]arrow.DataType, len(pr.names))
	if !sample || rd.opts.InferRows == 0 {
		return pr, nil
	}
	inf := make([]batch.Inferrer, len(pr.names))
	pos = 0
	for n := 0; n < rd.opts.InferRows && pos < maxSampleBytes; {
		end, err := f.recordAt(&rd.sc, pos, rd.opts.maxRecordBytes)
		if err != nil && !errors.Is(err, ErrRecordTooLong) {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if err != nil || end == pos {
			break
		}
		body := trimEOL(f.buf[pos:end])
		pos = end
		if len(body) == 0 || (rd.sc.comment != 0 && body[0] == rd.sc.comment) {
			continue
		}
		n++
		if split(body) != nil || len(fields) != len(pr.names) {
			continue // reported when parsed
		}
		for i, v := range fields {
			if !rd.isNull(v) {
				inf[i].Observe(v)
			}
		}
	}
	for i := range inf {
		if inf[i].Seen() {
			pr.types[i] = inf[i].Type()
		}
	}
	return pr, nil
}

// generatedNames names the columns of a header-less input: after the
// schema when it lists exactly n columns none of which is named column_N,
// column_1..column_n otherwise.
func (rd *reader) generatedNames(n int) []string {
	if len(rd.opts.Schema) == n {
		generic := false
		for _, f := range rd.opts.Schema {
			if isGeneratedName(f.Name) {
				generic = true
			}
		}
		if !generic {
			names := make([]string, n)
			for i, f := range rd.opts.Schema {
				names[i] = f.Name
			}
			return names
		}
	}
	names := make([]string, n)
	for i := range names {
		names[i] = "column_" + strconv.Itoa(i+1)
	}
	return names
}

func isGeneratedName(s string) bool {
	rest, ok := strings.CutPrefix(s, "column_")
	if !ok {
		return false
	}
	_, err := strconv.Atoi(rest)
	return err == nil
}

// headerNames turns header fields into unique column names: blanks become
// column_N, repeats get a suffix (_2, _3, ...).
func headerNames(fields [][]byte) []string {
	names := make([]string, len(fields))
	seen := map[string]int{}
	for i, f := range fields {
		s := strings.TrimSpace(string(f))
		if s == "" {
			s = "column_" + strconv.Itoa(i+1)
		}
		if k := seen[s]; k > 0 {
			seen[s] = k + 1
			s = s + "_" + strconv.Itoa(k+1)
		}
		seen[s]++
		names[i] = s
	}
	return names
}

// layout maps the records of one input onto the output schema.
type layout struct {
	schema   *arrow.Schema
	fieldCol []int // record field → output column (-1: not projected)
	missing  []int // output columns the input lacks (always null)
}

// resolve unifies the probed inputs by column name into one schema (types
// from the explicit schema, else widened over the inputs' inferred types)
// and returns each input's layout.
func (rd *reader) resolve(probes []*probeResult, names []string) ([]*layout, error) {
	explicit := map[string]arrow.DataType{}
	for _, f := range rd.opts.Schema {
		explicit[f.Name] = f.Type
	}
	var order []string
	types := map[string]arrow.DataType{}
	known := map[string]bool{}
	for _, pr := range probes {
		for i, n := range pr.names {
			if !known[n] {
				known[n] = true
				order = append(order, n)
			}
			if _, ok := explicit[n]; !ok {
				types[n] = batch.WidenText(types[n], pr.types[i])
			}
		}
	}
	for _, f := range rd.opts.Schema {
		if !known[f.Name] && len(order) > 0 {
			return nil, fmt.Errorf("schema column %q is not in %s (columns: %s)", f.Name, strings.Join(names, ", "), strings.Join(order, ", "))
		}
	}
	if rd.opts.Columns != nil {
		proj := make([]string, 0, len(rd.opts.Columns))
		for _, c := range rd.opts.Columns {
			if !known[c] {
				if len(order) == 0 || rd.opts.ColumnsHint {
					continue
				}
				msg := fmt.Sprintf("columns: %q is not a column of %s", c, strings.Join(names, ", "))
				if s := flow.Nearest(c, order); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				} else {
					msg += " (columns: " + strings.Join(order, ", ") + ")"
				}
				return nil, errors.New(msg)
			}
			if !slices.Contains(proj, c) {
				proj = append(proj, c)
			}
		}
		if rd.opts.ColumnsHint {
			// A hint keeps the file's column order.
			proj = slices.DeleteFunc(slices.Clone(order), func(c string) bool { return !slices.Contains(proj, c) })
		}
		if len(proj) == 0 && len(order) > 0 {
			proj = order[:1] // a row count still needs a column
		}
		order = proj
	}
	fields := make([]arrow.Field, len(order))
	index := map[string]int{}
	for i, n := range order {
		t, ok := explicit[n]
		if !ok {
			t = types[n]
			if t == nil {
				t = arrow.BinaryTypes.String
			}
		}
		fields[i] = arrow.Field{Name: n, Type: t, Nullable: true}
		index[n] = i
	}
	schema := arrow.NewSchema(fields, nil)
	out := make([]*layout, len(probes))
	for k, pr := range probes {
		l := &layout{schema: schema, fieldCol: make([]int, len(pr.names))}
		has := make([]bool, len(order))
		for i, n := range pr.names {
			c, ok := index[n]
			if !ok {
				l.fieldCol[i] = -1
				continue
			}
			l.fieldCol[i] = c
			has[c] = true
		}
		for i, h := range has {
			if !h {
				l.missing = append(l.missing, i)
			}
		}
		out[k] = l
	}
	return out, nil
}

// ReadStream parses CSV from r and emits its rows on st in batches of at
// most opts.BatchSize rows, in input order; name locates rows in
// rejections and errors ("name:line"). The header and type sample are read
// first, on the calling goroutine; parsing then runs on GOMAXPROCS
// goroutines, all of which have exited when ReadStream returns.
//
// Bad rows (wrong number of fields, unterminated quote, a value that does
// not fit its column) go to st.Reject with Source "name:line" and Raw the
// record's text; under the stop strategy the error is returned. It returns
// nil at the end of r or when st.Draining() closes (after emitting what was
// already read), ctx.Err() when ctx ends. ReadStream does not close r; a
// Read blocked forever delays the return of a cancelled ReadStream until it
// returns. st.Metrics().BytesRead counts the bytes taken from r.
func ReadStream(ctx context.Context, st *flow.Stage, r io.Reader, name string, opts ReadOptions) error {
	rd, err := newReader(opts, st.Alloc)
	if err != nil {
		return err
	}
	f := &feeder{r: r, read: &st.Metrics().BytesRead}
	pr, err := rd.probe(f, name, rd.needInference())
	if err != nil {
		return err
	}
	if pr.names == nil {
		return nil
	}
	lays, err := rd.resolve([]*probeResult{pr}, []string{name})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	_, err = rd.pipe(ctx, st, f, lays[0], name, pr.line)
	return err
}

// chunk is a run of whole records handed to a parse worker.
type chunk struct {
	data []byte
	line int64 // line number of data[0]
	res  chan *result
}

// result is a parsed chunk, or a read error.
type result struct {
	rec      arrow.RecordBatch
	rejects  []flow.Rejection
	rejLines []int64 // line of each rejection
	err      error
}

func (r *result) release() {
	if r != nil && r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
}

// pipe parses the rest of f (positioned after the header, at line) with
// the parallel reader and emits the batches. drained reports that
// st.Draining() closed.
func (rd *reader) pipe(ctx context.Context, st *flow.Stage, f *feeder, lay *layout, name string, line int64) (drained bool, err error) {
	ictx, cancel := context.WithCancel(ctx)
	workers := rd.opts.workers
	work := make(chan *chunk, workers)
	order := make(chan chan *result, 2*workers)
	free := make(chan []byte, 3*workers+2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var cur chan *result // the result being awaited, if any
	defer func() {
		cancel()
		wg.Wait()
		if cur != nil {
			select {
			case r := <-cur:
				r.release()
			default:
			}
		}
		for res := range order {
			select {
			case r := <-res:
				r.release()
			default:
			}
		}
	}()

	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(work)
		rd.cutChunks(ictx, f, line, name, work, order, free, stop)
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := rd.newParser(lay, name)
			defer p.close()
			for {
				select {
				case c, ok := <-work:
					if !ok {
						return
					}
					r := p.parse(c)
					select {
					case free <- c.data[:0]:
					default:
					}
					select {
					case c.res <- r: // capacity 1, never blocks
					case <-ictx.Done():
						r.release()
						return
					}
				case <-ictx.Done():
					return
				}
			}
		}()
	}

	drainC := st.Draining()
	onDrain := func() {
		drainC = nil
		drained = true
		close(stop)
	}
	for {
		var res chan *result
		var ok bool
		select {
		case res, ok = <-order:
		case <-drainC:
			onDrain()
			continue
		case <-ctx.Done():
			return drained, ctx.Err()
		}
		if !ok {
			return drained, nil
		}
		cur = res
		var r *result
		for r == nil {
			select {
			case r = <-res:
			case <-drainC:
				onDrain()
			case <-ctx.Done():
				return drained, ctx.Err()
			}
		}
		cur = nil
		if r.err != nil {
			return drained, r.err
		}
		for _, rej := range r.rejects {
			if err := st.Reject(ctx, rej); err != nil {
				r.release()
				return drained, err
			}
		}
		rec := r.rec
		r.rec = nil
		if rec != nil {
			if err := st.Emit(ctx, rec); err != nil {
				return drained, err
			}
		}
	}
}

// cutChunks is the read loop: it fills buffers from f, cuts them after
// whole records, and hands each chunk to the workers (work) while queueing
// its result slot in order. It returns at the end of input, on a read
// error (queued as a result), when stop closes or ctx ends.
func (rd *reader) cutChunks(ctx context.Context, f *feeder, line int64, name string,
	work chan<- *chunk, order chan<- chan *result, free chan []byte, stop <-chan struct{}) {
	fail := func(err error) {
		res := make(chan *result, 1)
		res <- &result{err: err}
		select {
		case order <- res:
		case <-ctx.Done():
		}
	}
	batchRows := rd.opts.BatchSize
	target := min(rd.opts.chunkBytes, 256<<10)
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if err := f.fill(target); err != nil {
			fail(fmt.Errorf("reading %s: %w", name, err))
			return
		}
		end, recs := rd.sc.cut(f.buf, batchRows, f.eof)
		if end == 0 {
			if f.eof {
				return
			}
			if len(f.buf) >= rd.opts.maxRecordBytes {
				fail(fmt.Errorf("%s:%d: %w", name, line, ErrRecordTooLong))
				return
			}
			target = max(2*len(f.buf), target)
			continue
		}
		c := &chunk{data: f.buf[:end], line: line, res: make(chan *result, 1)}
		line += int64(bytes.Count(c.data, []byte{'\n'}))
		// Size the next chunk for batchRows records of the average length
		// seen, within the configured bound.
		avg := end/recs + 1
		target = min(max(avg*batchRows-avg*batchRows/32, 4<<10), rd.opts.chunkBytes)
		target = max(target, len(f.buf)-end+1)
		var nb []byte
		select {
		case b := <-free:
			if cap(b) >= target {
				nb = b[:0]
			}
		default:
		}
		if nb == nil {
			nb = make([]byte, 0, target)
		}
		f.buf = append(nb, f.buf[end:]...)
		select {
		case order <- c.res:
		case <-ctx.Done():
			return
		}
		select {
		case work <- c:
		case <-ctx.Done():
			return
		}
	}
}
