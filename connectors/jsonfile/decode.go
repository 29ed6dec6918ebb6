package jsonfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/conveyor-etl/conveyor/batch"
)

// record is one decoded record or one bad record of the input.
type record struct {
	m    map[string]any
	keys []string
	line int
	raw  string // the record's text, when known (jsonl)
	// bad is set when the record could not be decoded; m is then nil.
	bad error
	// fatal means the rest of the input cannot be read after this bad
	// record (a syntax error inside a top-level array).
	fatal bool
}

// decoder yields records from one input. next returns io.EOF at the end;
// other errors are I/O errors.
type decoder interface {
	next() (record, error)
}

// sniff peeks at the first non-blank byte of r: '[' means records.
func sniff(r *bufio.Reader) (string, error) {
	for {
		c, err := r.ReadByte()
		if err == io.EOF {
			return FormatJSONL, nil
		}
		if err != nil {
			return "", err
		}
		switch c {
		case ' ', '\t', '\r', '\n', 0xEF, 0xBB, 0xBF: // white space or a UTF-8 BOM
			continue
		}
		if err := r.UnreadByte(); err != nil {
			return "", err
		}
		if c == '[' {
			return FormatRecords, nil
		}
		return FormatJSONL, nil
	}
}

// newDecoder returns a decoder for r in format (FormatAuto sniffs).
func newDecoder(r io.Reader, format string) (decoder, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	if format == FormatAuto {
		f, err := sniff(br)
		if err != nil {
			return nil, err
		}
		format = f
	}
	if format == FormatRecords {
		return newRecordsDecoder(br), nil
	}
	return &linesDecoder{r: br}, nil
}

// linesDecoder reads one JSON object per line; blank lines are skipped.
type linesDecoder struct {
	r    *bufio.Reader
	line int
	buf  []byte
}

func (d *linesDecoder) next() (record, error) {
	for {
		d.buf = d.buf[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = d.r.ReadSlice('\n')
			d.buf = append(d.buf, chunk...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return record{}, err
		}
		if len(d.buf) == 0 && err == io.EOF {
			return record{}, io.EOF
		}
		d.line++
		text := bytes.TrimRight(d.buf, "\r\n")
		if d.line == 1 {
			text = bytes.TrimPrefix(text, []byte("\xEF\xBB\xBF"))
		}
		if len(bytes.TrimSpace(text)) == 0 {
			if err == io.EOF {
				return record{}, io.EOF
			}
			continue
		}
		m, keys, perr := batch.ParseObject(text)
		rec := record{m: m, keys: keys, line: d.line, raw: string(text)}
		if perr != nil {
			rec.m, rec.keys, rec.bad = nil, nil, fmt.Errorf("invalid JSON: %w", perr)
		}
		return rec, nil
	}
}

// recordsDecoder streams the elements of one top-level JSON array with
// json.Decoder tokens; the file is never loaded whole.
type recordsDecoder struct {
	lines   *lineTracker
	dec     *json.Decoder
	started bool
	done    bool
}

func newRecordsDecoder(r io.Reader) *recordsDecoder {
	lt := &lineTracker{r: r}
	dec := json.NewDecoder(lt)
	dec.UseNumber()
	return &recordsDecoder{lines: lt, dec: dec}
}

func (d *recordsDecoder) next() (record, error) {
	if d.done {
		return record{}, io.EOF
	}
	if !d.started {
		d.started = true
		tok, err := d.dec.Token()
		if err == io.EOF {
			d.done = true
			return record{}, io.EOF
		}
		if err != nil {
			return d.fatal(err)
		}
		if delim, ok := tok.(json.Delim); !ok || delim != '[' {
			return d.fatal(fmt.Errorf("%w: records input must be a JSON array of objects", ErrBadFormat))
		}
	}
	if !d.dec.More() {
		if _, err := d.dec.Token(); err != nil { // ']'
			return d.fatal(err)
		}
		if _, err := d.dec.Token(); err != io.EOF {
			if err == nil {
				err = errors.New("unexpected data after the top-level array")
			}
			return d.fatal(err)
		}
		d.done = true
		return record{}, io.EOF
	}
	line := d.lines.lineAt(d.dec.InputOffset() + skipSeparators(d.dec.Buffered()))
	m, keys, err := batch.DecodeObject(d.dec)
	if err != nil {
		if errors.Is(err, batch.ErrNotObject) {
			return record{line: line, bad: err}, nil
		}
		r, ferr := d.fatal(err)
		r.line = line
		return r, ferr
	}
	return record{m: m, keys: keys, line: line}, nil
}

// fatal reports a bad record after which nothing more can be read, or
// returns the error itself when it comes from the underlying reader.
func (d *recordsDecoder) fatal(err error) (record, error) {
	d.done = true
	if isIOError(err) {
		return record{}, err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	line := d.lines.lineAt(d.dec.InputOffset())
	return record{line: line, bad: fmt.Errorf("invalid JSON: %w (the rest of the input is skipped)", err), fatal: true}, nil
}

// ioError marks errors of the underlying reader.
type ioError struct{ err error }

func (e *ioError) Error() string { return e.err.Error() }
func (e *ioError) Unwrap() error { return e.err }

func isIOError(err error) bool {
	var e *ioError
	return errors.As(err, &e)
}

// skipSeparators counts the white space and commas at the start of b (the
// bytes between the decoder's offset and the next value).
func skipSeparators(r io.Reader) int64 {
	b, ok := r.(*bytes.Reader)
	if !ok {
		return 0
	}
	var n int64
	for {
		c, err := b.ReadByte()
		if err != nil {
			return n
		}
		switch c {
		case ' ', '\t', '\r', '\n', ',':
			n++
			continue
		}
		return n
	}
}

// lineTracker passes reads through and remembers the offsets of newlines
// not yet accounted for, so that a byte offset can be turned into a line
// number. lineAt must be called with non-decreasing offsets; memory is
// bounded by what the decoder has read ahead.
type lineTracker struct {
	r        io.Reader
	off      int64   // bytes read so far
	newlines []int64 // offsets of newlines at or after the last lineAt
	line     int     // newlines before the last lineAt offset
}

func (t *lineTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			t.newlines = append(t.newlines, t.off+int64(i))
		}
	}
	t.off += int64(n)
	if err != nil && err != io.EOF {
		err = &ioError{err}
	}
	return n, err
}

// lineAt returns the 1-based line holding byte offset off.
func (t *lineTracker) lineAt(off int64) int {
	i := 0
	for i < len(t.newlines) && t.newlines[i] < off {
		i++
	}
	t.line += i
	t.newlines = append(t.newlines[:0], t.newlines[i:]...)
	return t.line + 1
}
