package jsonfile

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// errDrained stops reading when the pipeline drains; the source then
// returns nil.
var errDrained = errors.New("drained")

// fileReader is the json.read operator.
type fileReader struct {
	path string
	opts ReadOptions
}

func newFileReader(cfg flow.Config, env flow.BuildEnv) (any, error) {
	opts, err := ReadOptionsFromConfig(cfg, env)
	if err != nil {
		return nil, err
	}
	return &fileReader{path: env.Path(cfg.Str("path")), opts: opts}, nil
}

// Run reads every file matching the path, in name order. The schema is
// inferred from the first InferRows records of each file and unified
// across files before any batch is emitted, so every batch has the same
// schema. It returns nil once all files are read or when the pipeline
// drains (after emitting what it holds).
func (r *fileReader) Run(ctx context.Context, st *flow.Stage) error {
	files, err := fileio.Expand(r.path)
	if err != nil {
		return fmt.Errorf("json.read: %w", err)
	}
	schema, err := r.infer(ctx, files)
	if err != nil {
		return err
	}
	p, err := newPump(st, schema, r.opts.BatchSize)
	if err != nil {
		return err
	}
	defer p.release()
	for _, path := range files {
		err := r.readFile(ctx, p, path)
		if err == errDrained {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return p.emit(ctx)
}

func (r *fileReader) open(path string) (*fileio.Reader, decoder, error) {
	codec, err := fileio.Resolve(r.opts.Compression, path)
	if err != nil {
		return nil, nil, err
	}
	f, err := fileio.Open(path, codec)
	if err != nil {
		return nil, nil, fmt.Errorf("json.read: %w", err)
	}
	dec, err := newDecoder(f, r.opts.Format)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("json.read: reading %s: %w", path, err)
	}
	return f, dec, nil
}

// infer samples each file. Bad records are skipped here; they are
// rejected when the file is read for real.
func (r *fileReader) infer(ctx context.Context, files []string) (*arrow.Schema, error) {
	in := batch.NewJSONInferrer()
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, dec, err := r.open(path)
		if err != nil {
			return nil, err
		}
		for n := 0; n < r.opts.InferRows; {
			rec, err := dec.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("json.read: reading %s: %w", path, err)
			}
			if rec.bad != nil {
				if rec.fatal {
					break
				}
				continue
			}
			in.ObserveKeys(rec.m, rec.keys)
			n++
		}
		f.Close()
	}
	return withOverrides(in.Schema(), r.opts.Schema), nil
}

func (r *fileReader) readFile(ctx context.Context, p *pump, path string) error {
	f, dec, err := r.open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := p.run(ctx, dec, path, nil); err != nil {
		return err
	}
	if f.Size > 0 {
		p.st.Metrics().BytesRead.Add(f.Size)
	}
	return nil
}

// withOverrides replaces the types of the columns named in over (dropping
// their metadata) and appends the columns of over that inferred lacks.
func withOverrides(inferred, over *arrow.Schema) *arrow.Schema {
	if over == nil {
		return inferred
	}
	fields := make([]arrow.Field, 0, inferred.NumFields()+over.NumFields())
	seen := map[string]bool{}
	for _, f := range inferred.Fields() {
		if idx := over.FieldIndices(f.Name); len(idx) > 0 {
			f = over.Field(idx[0])
			f.Nullable = true
		}
		seen[f.Name] = true
		fields = append(fields, f)
	}
	for _, f := range over.Fields() {
		if !seen[f.Name] {
			f.Nullable = true
			fields = append(fields, f)
		}
	}
	return arrow.NewSchema(fields, nil)
}

// ReadStream reads JSON records (opts.Format; FormatAuto sniffs) from r,
// which it borrows and does not close, and emits them on st's main output
// in batches of opts.BatchSize rows. name locates records in rejections
// ("name:line"). The schema is inferred in one pass: the first
// opts.InferRows records are held in memory, inferred from, then built;
// opts.Schema overrides the types of the columns it names. Bad records are
// rejected through st.Reject; under the stop strategy the error Reject
// returns is returned. ReadStream returns nil at the end of r and when the
// pipeline drains (after emitting what it holds); it blocks on r and on
// the output, and returns ctx.Err() when ctx ends while it waits on the
// output (a read blocked on r is not interrupted: close r to end it).
func ReadStream(ctx context.Context, st *flow.Stage, r io.Reader, name string, opts ReadOptions) error {
	if opts.InferRows < 1 {
		opts.InferRows = 1
	}
	if opts.BatchSize < 1 {
		opts.BatchSize = DefaultReadOptions().BatchSize
	}
	if opts.Format == "" {
		opts.Format = FormatAuto
	}
	dec, err := newDecoder(r, normFormat(opts.Format))
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	var (
		held []record
		good int
		eof  bool
	)
	in := batch.NewJSONInferrer()
	for good < opts.InferRows {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := dec.next()
		if err == io.EOF {
			eof = true
			break
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		held = append(held, rec)
		if rec.bad == nil {
			in.ObserveKeys(rec.m, rec.keys)
			good++
		} else if rec.fatal {
			eof = true
			break
		}
	}
	p, err := newPump(st, withOverrides(in.Schema(), opts.Schema), opts.BatchSize)
	if err != nil {
		return err
	}
	defer p.release()
	if eof {
		dec = nil
	}
	err = p.run(ctx, dec, name, held)
	if err == errDrained {
		return nil
	}
	if err != nil {
		return err
	}
	return p.emit(ctx)
}

// pump turns records into batches and rejections.
type pump struct {
	st      *flow.Stage
	b       *batch.Builder
	size    int
	columns map[string]bool
}

func newPump(st *flow.Stage, schema *arrow.Schema, size int) (*pump, error) {
	b, err := batch.NewBuilder(st.Alloc, schema)
	if err != nil {
		return nil, err
	}
	cols := map[string]bool{}
	for _, f := range schema.Fields() {
		cols[f.Name] = true
	}
	return &pump{st: st, b: b, size: size, columns: cols}, nil
}

func (p *pump) release() { p.b.Release() }

// run feeds the held records, then every record of dec (nil: none) until
// its end. It returns errDrained when the pipeline drains.
func (p *pump) run(ctx context.Context, dec decoder, name string, held []record) error {
	for i := 0; ; i++ {
		var rec record
		if i < len(held) {
			rec = held[i]
			held[i] = record{}
		} else {
			if dec == nil {
				return nil
			}
			var err error
			rec, err = dec.next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", name, err)
			}
		}
		if i&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := p.add(ctx, name, rec); err != nil {
			return err
		}
		if rec.fatal {
			return nil
		}
		if p.b.Len() >= p.size {
			if err := p.emit(ctx); err != nil {
				return err
			}
			select {
			case <-p.st.Draining():
				return errDrained
			default:
			}
		}
	}
}

func (p *pump) add(ctx context.Context, name string, rec record) error {
	loc := fmt.Sprintf("%s:%d", name, rec.line)
	if rec.bad != nil {
		return p.st.Reject(ctx, flow.Rejection{Err: rec.bad, Source: loc, Raw: rec.raw})
	}
	for _, k := range rec.keys {
		if !p.columns[k] {
			// Dropping the value would lose data silently: the row is
			// rejected instead, so it stops the run or reaches the
			// dead-letter output whole.
			rej := flow.Rejection{Err: fmt.Errorf("key %q is not in the schema inferred from the first records (name it in schema, or raise infer_rows)", k),
				Source: loc, Raw: rec.raw}
			if rec.raw == "" {
				rej.Row = rec.m
			}
			return p.st.Reject(ctx, rej)
		}
	}
	if err := p.b.Append(rec.m); err != nil {
		rej := flow.Rejection{Err: err, Source: loc, Raw: rec.raw}
		if rec.raw == "" {
			rej.Row = rec.m
		}
		return p.st.Reject(ctx, rej)
	}
	return nil
}

// emit sends the rows built so far (nothing when there are none).
func (p *pump) emit(ctx context.Context) error {
	if p.b.Len() == 0 {
		return nil
	}
	return p.st.Emit(ctx, p.b.NewBatch())
}
