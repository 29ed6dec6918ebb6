package csvconn

import (
	"bytes"
	"context"
	"fmt"

	"github.com/conveyor-etl/conveyor/flow"
)

// LinesParser turns chunks of CSV lines that arrive over time (a stream's
// micro-batches) into batches of one schema. The first chunk holding data
// records gives the header (when HasHeader) and the sample the column types
// are inferred from (or the schema option fixes them); the layout is then
// fixed for the rest of the stream, and a record that does not fit it is
// rejected with its line. A record must not span chunks: a quoted field
// holding a newline is not supported in streams.
type LinesParser struct {
	st      *flow.Stage
	name    string
	rd      *reader
	lay     *layout
	p       *parser
	line    int64
	pending []byte // a header-only first chunk, kept for the next one
}

// NewLinesParser returns a parser emitting on st; name locates rejected
// lines ("name:line").
func NewLinesParser(st *flow.Stage, name string, opts ReadOptions) (*LinesParser, error) {
	rd, err := newReader(opts, st.Alloc)
	if err != nil {
		return nil, err
	}
	return &LinesParser{st: st, name: name, rd: rd}, nil
}

// Parse parses the whole lines of data and emits their rows as one batch.
func (lp *LinesParser) Parse(ctx context.Context, data []byte) error {
	if lp.lay == nil {
		if len(lp.pending) > 0 {
			data = append(lp.pending, data...)
			lp.pending = nil
		}
		f := &feeder{r: bytes.NewReader(data)}
		pr, err := lp.rd.probe(f, lp.name, lp.rd.needInference())
		if err != nil {
			return err
		}
		if pr.names == nil {
			return nil // blank lines only
		}
		if err := f.fill(len(data) + 1); err != nil {
			return err
		}
		if len(bytes.TrimSpace(f.buf)) == 0 && lp.rd.needInference() {
			// The header came alone: wait for records to infer from.
			lp.pending = append([]byte(nil), data...)
			return nil
		}
		lays, err := lp.rd.resolve([]*probeResult{pr}, []string{lp.name})
		if err != nil {
			return fmt.Errorf("%s: %w", lp.name, err)
		}
		lp.lay = lays[0]
		lp.p = lp.rd.newParser(lp.lay, lp.name)
		lp.line = pr.line
		data = f.buf
	}
	if len(data) == 0 {
		return nil
	}
	c := &chunk{data: data, line: lp.line}
	lp.line += int64(bytes.Count(data, []byte{'\n'}))
	lp.st.Metrics().BytesRead.Add(int64(len(data)))
	r := lp.p.parse(c)
	defer r.release()
	if r.err != nil {
		return r.err
	}
	for _, rej := range r.rejects {
		if err := lp.st.Reject(ctx, rej); err != nil {
			return err
		}
	}
	rec := r.rec
	r.rec = nil
	if rec == nil {
		return nil
	}
	return lp.st.Emit(ctx, rec)
}

// Release frees what the parser holds.
func (lp *LinesParser) Release() {
	if lp.p != nil {
		lp.p.close()
	}
}
