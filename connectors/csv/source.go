package csvconn

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/conveyor-etl/conveyor/flow"
	"github.com/conveyor-etl/conveyor/internal/fileio"
)

// source is the csv.read operator.
type source struct {
	pattern string
	base    string // BaseDir, trimmed from file names in messages
	opts    ReadOptions
}

func newSource(cfg flow.Config, env flow.BuildEnv) (any, error) {
	opts, err := ReadOptionsFromConfig(cfg, env)
	if err != nil {
		return nil, err
	}
	if _, err := fileio.Resolve(opts.Compression, ""); err != nil {
		return nil, err
	}
	return &source{pattern: env.Path(cfg.Str("path")), base: env.BaseDir, opts: opts}, nil
}

// Run reads every file the path names, in order. With several files the
// header and type sample of each is read first, and the schemas are
// unified by column name (types widened; a column a file lacks is null in
// its rows).
func (s *source) Run(ctx context.Context, st *flow.Stage) error {
	return readFiles(ctx, st, s.pattern, s.base, s.opts)
}

func openInput(path string, opts ReadOptions) (*fileio.Reader, error) {
	codec, err := fileio.Resolve(opts.Compression, path)
	if err != nil {
		return nil, err
	}
	r, err := fileio.Open(path, codec)
	if err != nil {
		return nil, fmt.Errorf("csv.read: %w", err)
	}
	return r, nil
}

func readFiles(ctx context.Context, st *flow.Stage, pattern, base string, opts ReadOptions) error {
	files, err := fileio.Expand(pattern)
	if err != nil {
		return fmt.Errorf("csv.read: %w", err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = displayName(f, base)
	}
	rd, err := newReader(opts, st.Alloc)
	if err != nil {
		return err
	}
	read := &st.Metrics().BytesRead
	if len(files) == 1 {
		in, err := openInput(files[0], opts)
		if err != nil {
			return err
		}
		defer in.Close()
		f := &feeder{r: in, read: read}
		pr, err := rd.probe(f, names[0], rd.needInference())
		if err != nil || pr.names == nil {
			return err
		}
		lays, err := rd.resolve([]*probeResult{pr}, names)
		if err != nil {
			return fmt.Errorf("csv.read: %w", err)
		}
		_, err = rd.pipe(ctx, st, f, lays[0], names[0], pr.line)
		return err
	}
	probes := make([]*probeResult, 0, len(files))
	for i, path := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		in, err := openInput(path, opts)
		if err != nil {
			return err
		}
		pr, err := rd.probe(&feeder{r: in}, names[i], rd.needInference())
		in.Close()
		if err != nil {
			return err
		}
		probes = append(probes, pr)
	}
	lays, err := rd.resolve(probes, names)
	if err != nil {
		return fmt.Errorf("csv.read: %w", err)
	}
	for i, path := range files {
		if probes[i].names == nil {
			continue
		}
		select {
		case <-st.Draining():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		in, err := openInput(path, opts)
		if err != nil {
			return err
		}
		f := &feeder{r: in, read: read}
		pr, err := rd.probe(f, names[i], false)
		if err == nil {
			var drained bool
			drained, err = rd.pipe(ctx, st, f, lays[i], names[i], pr.line)
			if drained {
				in.Close()
				return err
			}
		}
		in.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// displayName is path as the pipeline file names it: relative to base
// when it lies under it.
func displayName(path, base string) string {
	if base == "" {
		return path
	}
	if rel, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}
