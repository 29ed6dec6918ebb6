package csvconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unsafe"
)

// scanner holds the lexical settings shared by the chunker and the field
// parser. Both follow one rule so that where a chunk is cut never changes
// the result: a record ends at the first newline preceded (since the
// record's start) by an even number of quote characters, except that a
// line starting with the comment character is one record whatever it holds.
type scanner struct {
	delim, quote, comment byte
}

// recordEnd returns the index just past the newline that ends the record
// starting at data[0], or -1 when data holds no complete record.
func (s *scanner) recordEnd(data []byte) int {
	if s.quote == 0 || (s.comment != 0 && len(data) > 0 && data[0] == s.comment) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1
		}
		return -1
	}
	i := 0
	for {
		nl := bytes.IndexByte(data[i:], '\n')
		seg := data[i:]
		if nl >= 0 {
			seg = seg[:nl]
		}
		q := bytes.IndexByte(seg, s.quote)
		if q < 0 {
			if nl < 0 {
				return -1
			}
			return i + nl + 1
		}
		// Skip the quoted section.
		i += q + 1
		c := bytes.IndexByte(data[i:], s.quote)
		if c < 0 {
			return -1
		}
		i += c + 1
	}
}

// cut returns the length of the longest prefix of data made of whole
// records, at most maxRecords of them, and how many it holds. At EOF a
// final record without a newline counts as whole (an unterminated quoted
// field then extends to the end of the data).
func (s *scanner) cut(data []byte, maxRecords int, atEOF bool) (end, records int) {
	if s.quote == 0 || bytes.IndexByte(data, s.quote) < 0 {
		if n := bytes.Count(data, []byte{'\n'}); n <= maxRecords {
			end = bytes.LastIndexByte(data, '\n') + 1
			if atEOF && end < len(data) && n < maxRecords {
				return len(data), n + 1
			}
			return end, n
		}
		for records < maxRecords {
			nl := bytes.IndexByte(data[end:], '\n')
			if nl < 0 {
				if atEOF && end < len(data) {
					return len(data), records + 1
				}
				return end, records
			}
			end += nl + 1
			records++
		}
		return end, records
	}
	for records < maxRecords && end < len(data) {
		n := s.recordEnd(data[end:])
		if n < 0 {
			if atEOF {
				return len(data), records + 1
			}
			return end, records
		}
		end += n
		records++
	}
	return end, records
}

// Errors of malformed records.
var (
	errUnterminated = errors.New("unterminated quoted field")
	errBareQuote    = errors.New("bare quote in unquoted field")
	errAfterQuote   = errors.New("unexpected text after closing quote")
)

// trimEOL drops a trailing "\n" or "\r\n".
func trimEOL(rec []byte) []byte {
	if n := len(rec); n > 0 && rec[n-1] == '\n' {
		rec = rec[:n-1]
		if n > 1 && rec[n-2] == '\r' {
			rec = rec[:n-2]
		}
	} else if n > 0 && rec[n-1] == '\r' {
		rec = rec[:n-1]
	}
	return rec
}

// splitPlain splits a record without quote characters.
func (s *scanner) splitPlain(rec []byte, fields [][]byte) [][]byte {
	fields = fields[:0]
	for {
		k := bytes.IndexByte(rec, s.delim)
		if k < 0 {
			return append(fields, rec)
		}
		fields = append(fields, rec[:k])
		rec = rec[k+1:]
	}
}

// splitQuoted splits a record that may hold quoted fields. Unescaped
// quoted fields are written to esc, which it grows to len(rec) first so
// that the returned slices stay valid; esc is returned for reuse.
func (s *scanner) splitQuoted(rec []byte, fields [][]byte, esc []byte) ([][]byte, []byte, error) {
	fields = fields[:0]
	if cap(esc) < len(rec) {
		esc = make([]byte, 0, len(rec)+len(rec)/4)
	}
	esc = esc[:0]
	for {
		if len(rec) > 0 && rec[0] == s.quote {
			rec = rec[1:]
			start := len(esc)
			for {
				k := bytes.IndexByte(rec, s.quote)
				if k < 0 {
					return fields, esc, fmt.Errorf("field %d: %w", len(fields)+1, errUnterminated)
				}
				esc = append(esc, rec[:k]...)
				rec = rec[k+1:]
				if len(rec) > 0 && rec[0] == s.quote {
					esc = append(esc, s.quote)
					rec = rec[1:]
					continue
				}
				break
			}
			fields = append(fields, esc[start:len(esc):len(esc)])
			if len(rec) == 0 {
				return fields, esc, nil
			}
			if rec[0] != s.delim {
				return fields, esc, fmt.Errorf("field %d: %w", len(fields), errAfterQuote)
			}
			rec = rec[1:]
			continue
		}
		k := bytes.IndexByte(rec, s.delim)
		f := rec
		if k >= 0 {
			f = rec[:k]
		}
		if bytes.IndexByte(f, s.quote) >= 0 {
			return fields, esc, fmt.Errorf("field %d: %w", len(fields)+1, errBareQuote)
		}
		fields = append(fields, f)
		if k < 0 {
			return fields, esc, nil
		}
		rec = rec[k+1:]
	}
}

// unsafeBytes views s as bytes without copying; the result must not be
// modified.
func unsafeBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
	swarNL = '\n' * swarLo
)

// nextDelimOrNL returns the index of the first delimiter (repeated in
// every byte of dm) or newline in data[i:], or len(data). It tests eight
// bytes at a time: in (x-lo)&^x&hi the lowest set bit marks exactly the
// first zero byte of x.
func nextDelimOrNL(data []byte, i int, dm uint64) int {
	n := len(data)
	delim := byte(dm)
	for i+8 <= n {
		w := binary.LittleEndian.Uint64(data[i:])
		x, y := w^dm, w^swarNL
		t := ((x - swarLo) &^ x & swarHi) | ((y - swarLo) &^ y & swarHi)
		if t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
		i += 8
	}
	for ; i < n; i++ {
		if c := data[i]; c == delim || c == '\n' {
			return i
		}
	}
	return n
}
