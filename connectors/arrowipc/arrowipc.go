package arrowipc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/conveyor-etl/conveyor/batch"
	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// magic opens (and ends) every Arrow IPC file; a stream has none.
var magic = []byte("ARROW1")

// Register adds arrow.read and arrow.write (legacy names source.arrow and
// sink.arrow) to r.
func Register(r *flow.Registry) {
	r.Register(ReadSpec())
	r.Register(WriteSpec())
}

func checkPath(cfg flow.Config) []*flow.ConfigError {
	if strings.TrimSpace(cfg.Str("path")) == "" {
		return []*flow.ConfigError{{Key: "path", Message: "must not be empty"}}
	}
	return nil
}

// ReadSpec is the spec of arrow.read.
func ReadSpec() *flow.Spec {
	return &flow.Spec{
		Name: "arrow.read", Kind: flow.KindSource, Aliases: []string{"source.arrow"},
		Summary: "Read Arrow IPC files or streams",
		Description: "Reads Arrow IPC data: the file format (Feather v2, starting with the ARROW1 magic) batch by batch, " +
			"or the stream format. Batches are emitted as stored, with their exact types. With a glob, every match is read " +
			"in name order and schemas are unified by column name.",
		Tags: []string{"file", "arrow"},
		Params: []flow.Param{
			{Name: "path", Type: flow.TypeString, Required: true, Doc: "File to read; globs (*, ?, [..]) read every match in name order."},
		},
		Check: checkPath,
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return &reader{path: env.Path(cfg.Str("path"))}, nil
		},
		Examples: []flow.Example{
			{
				Title:  "Read an Arrow IPC file",
				Config: `path = "data.arrow"`,
				Files:  map[string]string{"data.arrow": exampleFile(`{"id":1,"at":"2024-05-01T10:00:00Z"}`+"\n"+`{"id":2,"at":null}`, true)},
				Output: `{"id":1,"at":"2024-05-01T10:00:00Z"}` + "\n" + `{"id":2,"at":null}` + "\n",
			},
			{
				Title:  "Read an Arrow IPC stream",
				Config: `path = "data.arrows"`,
				Files:  map[string]string{"data.arrows": exampleFile(`{"k":"a","v":1.5}`, false)},
				Output: `{"k":"a","v":1.5}` + "\n",
			},
		},
	}
}

// WriteSpec is the spec of arrow.write.
func WriteSpec() *flow.Spec {
	return &flow.Spec{
		Name: "arrow.write", Kind: flow.KindSink, Aliases: []string{"sink.arrow"},
		Summary: "Write rows to an Arrow IPC file",
		Description: "Writes the input as an Arrow IPC file (file format, readable by arrow.read, pyarrow.feather, DuckDB and " +
			"Polars), one record batch per input batch, types kept exactly. The file is written under a temporary name and " +
			"renamed when the input ends; a failed run leaves no file. An input without rows writes no file.",
		Tags: []string{"file", "arrow"},
		Params: []flow.Param{
			{Name: "path", Type: flow.TypeString, Required: true, Doc: "Target file; parent folders are created."},
		},
		Check: checkPath,
		New: func(cfg flow.Config, env flow.BuildEnv) (any, error) {
			return &writer{path: env.Path(cfg.Str("path")), mem: env.Alloc}, nil
		},
		Examples: []flow.Example{{
			Title:  "Write an Arrow IPC file",
			Config: `path = "out/data.arrow"`,
			Input:  `{"id":1,"name":"ana"}` + "\n" + `{"id":2,"name":null}` + "\n",
		}},
	}
}

// reader is the arrow.read operator.
type reader struct{ path string }

// batchSource yields the batches of one file; next returns (nil, nil) at
// the end and a batch the caller owns otherwise.
type batchSource struct {
	schema *arrow.Schema
	next   func() (arrow.RecordBatch, error)
	close  func()
}

func open(mem memory.Allocator, path string) (*batchSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("arrow.read: %w", err)
	}
	head := make([]byte, len(magic))
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("arrow.read: %s: %w", path, err)
	}
	if n == len(magic) && bytes.Equal(head, magic) {
		fr, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("arrow.read: %s: %w", path, err)
		}
		i := 0
		return &batchSource{
			schema: fr.Schema(),
			next: func() (arrow.RecordBatch, error) {
				if i >= fr.NumRecords() {
					return nil, nil
				}
				i++
				return fr.RecordBatchAt(i - 1)
			},
			close: func() { fr.Close(); f.Close() },
		}, nil
	}
	sr, err := ipc.NewReader(f, ipc.WithAllocator(mem))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("arrow.read: %s: not an Arrow IPC file or stream: %w", path, err)
	}
	return &batchSource{
		schema: sr.Schema(),
		next: func() (arrow.RecordBatch, error) {
			if !sr.Next() {
				return nil, sr.Err()
			}
			b := sr.RecordBatch()
			b.Retain()
			return b, nil
		},
		close: func() { sr.Release(); f.Close() },
	}, nil
}

// Run reads every matching file in name order and emits its batches,
// projected onto the schemas unified across files. It returns nil at the
// end or when the pipeline drains.
func (r *reader) Run(ctx context.Context, st *flow.Stage) error {
	files, err := fileio.Expand(r.path)
	if err != nil {
		return fmt.Errorf("arrow.read: %w", err)
	}
	schemas := make([]*arrow.Schema, len(files))
	for i, p := range files {
		src, err := open(st.Alloc, p)
		if err != nil {
			return err
		}
		schemas[i] = src.schema
		src.close()
	}
	target := schemas[0]
	if len(files) > 1 {
		target = batch.Unify(schemas...)
	}
	for _, p := range files {
		stop, err := r.readFile(ctx, st, p, target)
		if err != nil || stop {
			return err
		}
	}
	return nil
}

func (r *reader) readFile(ctx context.Context, st *flow.Stage, path string, target *arrow.Schema) (stop bool, err error) {
	src, err := open(st.Alloc, path)
	if err != nil {
		return false, err
	}
	defer src.close()
	for {
		b, err := src.next()
		if err != nil {
			return false, fmt.Errorf("arrow.read: %s: %w", path, err)
		}
		if b == nil {
			break
		}
		out, err := batch.Project(st.Alloc, b, target)
		b.Release()
		if err != nil {
			return false, fmt.Errorf("arrow.read: %s: %w", path, err)
		}
		if err := st.Emit(ctx, out); err != nil {
			return false, err
		}
		select {
		case <-st.Draining():
			return true, nil
		default:
		}
	}
	if fi, err := os.Stat(path); err == nil {
		st.Metrics().BytesRead.Add(fi.Size())
	}
	return false, nil
}

// writer is the arrow.write sink: an IPC file written atomically. The
// file's schema is the first batch's; later batches are projected onto it.
type writer struct {
	path string
	mem  memory.Allocator
	af   *fileio.AtomicFile
	fw   *ipc.FileWriter
	sc   *arrow.Schema
}

// Write appends b as one record batch (b is borrowed).
func (w *writer) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	if w.fw == nil {
		af, err := fileio.Create(w.path, fileio.None)
		if err != nil {
			return fmt.Errorf("arrow.write: %w", err)
		}
		fw, err := ipc.NewFileWriter(af, ipc.WithSchema(b.Schema()), ipc.WithAllocator(w.mem))
		if err != nil {
			af.Abort()
			return fmt.Errorf("arrow.write: %s: %w", w.path, err)
		}
		w.af, w.fw, w.sc = af, fw, b.Schema()
	}
	if !b.Schema().Equal(w.sc) {
		pb, err := batch.Project(w.mem, b, w.sc)
		if err != nil {
			return fmt.Errorf("arrow.write: %s: batch does not fit the file's schema: %w", w.path, err)
		}
		defer pb.Release()
		b = pb
	}
	if err := w.fw.Write(b); err != nil {
		return fmt.Errorf("arrow.write: %s: %w", w.path, err)
	}
	return nil
}

// Close writes the footer and renames the file onto the target.
func (w *writer) Close(ctx context.Context, st *flow.Stage) error {
	if w.fw == nil {
		st.Logger.Warn("arrow.write received no rows; no file written", "path", w.path)
		return nil
	}
	err := w.fw.Close()
	w.fw = nil
	if err != nil {
		w.af.Abort()
		return fmt.Errorf("arrow.write: %s: %w", w.path, err)
	}
	if err := w.af.Commit(); err != nil {
		return fmt.Errorf("arrow.write: committing %s: %w", w.path, err)
	}
	return nil
}

// Abort discards the temporary file; the target is left untouched.
func (w *writer) Abort() {
	if w.fw != nil {
		w.fw.Close()
		w.fw = nil
	}
	if w.af != nil {
		w.af.Abort()
	}
}

// exampleFile returns the bytes of a small IPC file (or stream) holding
// ndjson's rows, for examples.
func exampleFile(ndjson string, fileFormat bool) string {
	mem := memory.NewGoAllocator()
	b, err := batch.FromNDJSON(mem, ndjson, nil)
	if err != nil {
		panic(err)
	}
	defer b.Release()
	var buf bytes.Buffer
	if fileFormat {
		fw, err := ipc.NewFileWriter(&buf, ipc.WithSchema(b.Schema()), ipc.WithAllocator(mem))
		if err == nil {
			err = fw.Write(b)
			if cerr := fw.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			panic(err)
		}
		return buf.String()
	}
	sw := ipc.NewWriter(&buf, ipc.WithSchema(b.Schema()), ipc.WithAllocator(mem))
	err = sw.Write(b)
	if cerr := sw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		panic(err)
	}
	return buf.String()
}
