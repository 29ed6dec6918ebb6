package fileio

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// ErrNoMatch is returned when a path pattern matches no file.
var ErrNoMatch = errors.New("no file matches")

// Expand resolves a path that may contain glob characters into the sorted
// list of files it names. A plain path is returned as is (its existence is
// checked when opened).
func Expand(pattern string) ([]string, error) {
	if !strings.ContainsAny(pattern, "*?[") {
		return []string{pattern}, nil
	}
	m, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("bad glob %q: %w", pattern, err)
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%w %q", ErrNoMatch, pattern)
	}
	sort.Strings(m)
	return m, nil
}

// Compression names a codec.
type Compression string

const (
	None Compression = "none"
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// Detect returns the codec implied by a file's extension.
func Detect(path string) Compression {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".gz", ".gzip":
		return Gzip
	case ".zst", ".zstd":
		return Zstd
	}
	return None
}

// Resolve turns a configured compression ("auto", "", or a codec name) into
// a codec for path.
func Resolve(setting, path string) (Compression, error) {
	switch setting {
	case "", "auto":
		return Detect(path), nil
	case "none", "gzip", "zstd":
		return Compression(setting), nil
	}
	return None, fmt.Errorf("unknown compression %q (use auto, none, gzip or zstd)", setting)
}

// Reader is an opened input file, decompressed. Close closes both the
// decompressor and the file.
type Reader struct {
	io.Reader
	closers []func() error
	// Size is the on-disk size of the file (compressed), or -1.
	Size int64
}

func (r *Reader) Close() error {
	var err error
	for i := len(r.closers) - 1; i >= 0; i-- {
		if e := r.closers[i](); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// Open opens path ("-" for stdin) and decompresses it according to codec.
func Open(path string, codec Compression) (*Reader, error) {
	var f *os.File
	size := int64(-1)
	if path == "-" {
		f = os.Stdin
	} else {
		var err error
		f, err = os.Open(path)
		if err != nil {
			return nil, err
		}
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
	}
	r := &Reader{Reader: f, Size: size}
	if f != os.Stdin {
		r.closers = append(r.closers, f.Close)
	}
	switch codec {
	case Gzip:
		gz, err := gzip.NewReader(f)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r.Reader = gz
		r.closers = append(r.closers, gz.Close)
	case Zstd:
		zr, err := zstd.NewReader(f)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r.Reader = zr
		r.closers = append(r.closers, func() error { zr.Close(); return nil })
	}
	return r, nil
}

// AtomicFile is a file being written under a temporary name beside its
// target. Commit renames it onto the target; Abort removes it. Writes go
// through the configured compression.
type AtomicFile struct {
	io.Writer
	target string
	tmp    *os.File
	enc    io.WriteCloser
	done   bool
}

// Create starts writing target atomically. Missing parent directories are
// created. "-" writes to stdout (Commit and Abort then only flush).
func Create(target string, codec Compression) (*AtomicFile, error) {
	a := &AtomicFile{target: target}
	var w io.Writer
	if target == "-" {
		w = os.Stdout
	} else {
		dir := filepath.Dir(target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp-*")
		if err != nil {
			return nil, err
		}
		// CreateTemp makes the file private (0600); a finished output is
		// an ordinary file, readable like one made by os.Create.
		if err := f.Chmod(0o644); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
		a.tmp = f
		w = f
	}
	switch codec {
	case Gzip:
		a.enc = gzip.NewWriter(w)
	case Zstd:
		zw, err := zstd.NewWriter(w)
		if err != nil {
			a.Abort()
			return nil, err
		}
		a.enc = zw
	}
	if a.enc != nil {
		a.Writer = a.enc
	} else {
		a.Writer = w
	}
	return a, nil
}

// Target is the final path.
func (a *AtomicFile) Target() string { return a.target }

// Commit finishes the compression stream, syncs and renames the temporary
// file onto the target.
func (a *AtomicFile) Commit() error {
	if a.done {
		return nil
	}
	a.done = true
	if a.enc != nil {
		if err := a.enc.Close(); err != nil {
			a.remove()
			return err
		}
	}
	if a.tmp == nil {
		return nil
	}
	if err := a.tmp.Close(); err != nil {
		a.remove()
		return err
	}
	if err := os.Rename(a.tmp.Name(), a.target); err != nil {
		a.remove()
		return err
	}
	return nil
}

// Abort discards what was written; the target is left untouched.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	if a.enc != nil {
		a.enc.Close()
	}
	a.remove()
}

func (a *AtomicFile) remove() {
	if a.tmp != nil {
		a.tmp.Close()
		os.Remove(a.tmp.Name())
	}
}

// ExpandExisting is Expand for planning: a pattern that matches nothing or
// a plain path that does not exist (yet) gives no files and no error, since
// the file may be produced before the run starts.
func ExpandExisting(pattern string) []string {
	files, err := Expand(pattern)
	if err != nil {
		return nil
	}
	if len(files) == 1 {
		if _, err := os.Stat(files[0]); err != nil {
			return nil
		}
	}
	return files
}
