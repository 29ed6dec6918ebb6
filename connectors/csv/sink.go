package csvconn

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// sink is the csv.write stage. The output file is created on the first
// batch (or at Close for an empty input) under a temporary name beside the
// target, renamed onto it by Close and removed by Abort.
type sink struct {
	path  string
	codec fileio.Compression
	opts  WriteOptions
	file  *fileio.AtomicFile
	enc   *Encoder
}

func newSink(cfg flow.Config, env flow.BuildEnv) (any, error) {
	path := env.Path(cfg.Str("path"))
	codec, err := fileio.Resolve(cfg.Str("compression"), path)
	if err != nil {
		return nil, err
	}
	opts := WriteOptions{Header: true, Delimiter: ','}
	if cfg.Has("has_headers") {
		opts.Header = cfg.Bool("has_headers")
	}
	if cfg.Has("delimiter") {
		d, err := oneByte("delimiter", cfg.Str("delimiter"), false)
		if err != nil {
			return nil, err
		}
		opts.Delimiter = d
	}
	return &sink{path: path, codec: codec, opts: opts}, nil
}

func (s *sink) open() error {
	if s.file != nil {
		return nil
	}
	f, err := fileio.Create(s.path, s.codec)
	if err != nil {
		return fmt.Errorf("csv.write: %w", err)
	}
	s.file = f
	s.enc = NewEncoder(f, s.opts)
	return nil
}

// Write encodes b (borrowed) into the temporary file.
func (s *sink) Write(ctx context.Context, st *flow.Stage, b arrow.RecordBatch) error {
	if err := s.open(); err != nil {
		return err
	}
	if err := s.enc.Write(b); err != nil {
		return fmt.Errorf("csv.write %s: %w", s.path, err)
	}
	return nil
}

// Close flushes and renames the temporary file onto the target.
func (s *sink) Close(ctx context.Context, st *flow.Stage) error {
	if err := s.open(); err != nil {
		return err
	}
	if err := s.enc.Flush(); err != nil {
		s.file.Abort()
		return fmt.Errorf("csv.write %s: %w", s.path, err)
	}
	if err := s.file.Commit(); err != nil {
		return fmt.Errorf("csv.write %s: %w", s.path, err)
	}
	return nil
}

// Abort removes the temporary file; the target is left untouched.
func (s *sink) Abort() {
	if s.file != nil {
		s.file.Abort()
	}
}
