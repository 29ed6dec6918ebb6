package jsonfile

import (
	"bytes"
	"context"
	"fmt"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
)

// LinesParser turns chunks of JSON lines that arrive over time (a stream's
// micro-batches) into batches of one schema. The schema is inferred from
// the first chunk holding a valid record (with opts.Schema's overrides),
// then fixed for the rest of the stream: a later record with a key the
// schema lacks, or a value of another type, is rejected whole (it reaches
// the dead-letter output or stops the run, as the stage's strategy says),
// never silently trimmed. Line numbers count across chunks.
type LinesParser struct {
	st   *flow.Stage
	name string
	opts ReadOptions
	p    *pump
	line int
}

// NewLinesParser returns a parser emitting on st; name locates rejected
// lines ("name:line").
func NewLinesParser(st *flow.Stage, name string, opts ReadOptions) *LinesParser {
	if opts.BatchSize < 1 {
		opts.BatchSize = DefaultReadOptions().BatchSize
	}
	if opts.InferRows < 1 {
		opts.InferRows = DefaultReadOptions().InferRows
	}
	return &LinesParser{st: st, name: name, opts: opts}
}

// Parse parses every line of data (whole lines; blank ones are skipped)
// and emits the rows as one batch (more when data holds more than
// BatchSize rows).
func (lp *LinesParser) Parse(ctx context.Context, data []byte) error {
	var recs []record
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var text []byte
		if i < 0 {
			text, data = data, nil
		} else {
			text, data = data[:i], data[i+1:]
		}
		lp.line++
		text = bytes.TrimRight(text, "\r")
		if lp.line == 1 {
			text = bytes.TrimPrefix(text, []byte("\xEF\xBB\xBF"))
		}
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		m, keys, err := batch.ParseObject(text)
		rec := record{m: m, keys: keys, line: lp.line, raw: string(text)}
		if err != nil {
			rec.m, rec.keys, rec.bad = nil, nil, fmt.Errorf("invalid JSON: %w", err)
		}
		recs = append(recs, rec)
	}
	if lp.p == nil {
		in := batch.NewJSONInferrer()
		good := 0
		for _, r := range recs {
			if r.bad == nil && good < lp.opts.InferRows {
				in.ObserveKeys(r.m, r.keys)
				good++
			}
		}
		if good == 0 && lp.opts.Schema == nil {
			// Nothing to infer from yet: reject the bad lines, wait for
			// good ones.
			for _, r := range recs {
				if err := lp.st.Reject(ctx, flow.Rejection{Err: r.bad, Source: fmt.Sprintf("%s:%d", lp.name, r.line), Raw: r.raw}); err != nil {
					return err
				}
			}
			return nil
		}
		p, err := newPump(lp.st, withOverrides(in.Schema(), lp.opts.Schema), lp.opts.BatchSize)
		if err != nil {
			return err
		}
		lp.p = p
	}
	for _, r := range recs {
		if err := lp.p.add(ctx, lp.name, r); err != nil {
			return err
		}
		if lp.p.b.Len() >= lp.p.size {
			if err := lp.p.emit(ctx); err != nil {
				return err
			}
		}
	}
	return lp.p.emit(ctx)
}

// Release frees the builders.
func (lp *LinesParser) Release() {
	if lp.p != nil {
		lp.p.release()
		lp.p = nil
	}
}
