package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// pathSeg is one step of a JSON path: an object key, or an array index
// (a plain segment made only of digits works on both).
type pathSeg struct {
	key     string
	index   int
	isIndex bool // the step can index an array
	keyOK   bool // the step can select an object key
}

// parseJSONPath parses "$.a.b[0].c", "$['a b'][-1]", or the plain form
// "a.b[0].c" / "a.b.0.c". "$" alone (or "") selects the whole document.
func parseJSONPath(path string) ([]pathSeg, error) {
	s := strings.TrimSpace(path)
	if strings.HasPrefix(s, "$") {
		s = s[1:]
	} else if s != "" && s[0] != '[' && s[0] != '.' {
		s = "." + s
	}
	var segs []pathSeg
	for len(s) > 0 {
		switch s[0] {
		case '.':
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			name := s[:end]
			if name == "" {
				return nil, fmt.Errorf("empty key in path %q", path)
			}
			seg := pathSeg{key: name, keyOK: true}
			if n, err := strconv.Atoi(name); err == nil && n >= 0 && name[0] != '+' {
				seg.index, seg.isIndex = n, true
			}
			segs = append(segs, seg)
			s = s[end:]
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ in path %q", path)
			}
			inner := strings.TrimSpace(s[1:end])
			if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') {
				q := inner[0]
				// A quoted key may hold ']': find its closing quote.
				open := strings.IndexByte(s, q)
				closeQ := strings.IndexByte(s[open+1:], q)
				if closeQ < 0 {
					return nil, fmt.Errorf("unterminated quoted key in path %q", path)
				}
				key := s[open+1 : open+1+closeQ]
				rest := strings.TrimLeft(s[open+1+closeQ+1:], " ")
				if !strings.HasPrefix(rest, "]") {
					return nil, fmt.Errorf("expected ] after quoted key in path %q", path)
				}
				segs = append(segs, pathSeg{key: key, keyOK: true})
				s = rest[1:]
				continue
			}
			n, err := strconv.Atoi(inner)
			if err != nil {
				return nil, fmt.Errorf("bad index %q in path %q (use [0], [-1] or ['key'])", inner, path)
			}
			segs = append(segs, pathSeg{index: n, isIndex: true})
			s = s[end+1:]
		default:
			return nil, fmt.Errorf("unexpected %q in path %q", s[0], path)
		}
	}
	return segs, nil
}

func skipWS(d []byte, i int) int {
	for i < len(d) {
		switch d[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the string starting at d[i] ('"').
func skipString(d []byte, i int) int {
	i++
	for i < len(d) {
		switch d[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return i
}

// skipValue returns the index just past the value starting at d[i]. d is
// valid JSON.
func skipValue(d []byte, i int) int {
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for i < len(d) {
			switch d[i] {
			case '"':
				i = skipString(d, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(d) {
		switch d[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// jsonWalker looks values up in valid JSON documents without decoding
// them. It keeps scratch space between calls; it is not safe for
// concurrent use.
type jsonWalker struct {
	path   []pathSeg
	starts []int
}

// lookup returns the raw text of the value at the path, or ok=false when
// the path does not exist in doc. doc must be valid JSON.
func (w *jsonWalker) lookup(doc []byte) ([]byte, bool) {
	i := skipWS(doc, 0)
	for _, seg := range w.path {
		if i >= len(doc) {
			return nil, false
		}
		switch doc[i] {
		case '{':
			if !seg.keyOK {
				return nil, false
			}
			j, found := findKey(doc, i, seg.key)
			if !found {
				return nil, false
			}
			i = j
		case '[':
			if !seg.isIndex {
				return nil, false
			}
			j, found := w.findIndex(doc, i, seg.index)
			if !found {
				return nil, false
			}
			i = j
		default:
			return nil, false
		}
	}
	if i >= len(doc) {
		return nil, false
	}
	return doc[i:skipValue(doc, i)], true
}

// findKey returns the start of the value of key in the object at d[i].
// When a key occurs several times, the last one wins (as encoding/json).
func findKey(d []byte, i int, key string) (int, bool) {
	i++ // '{'
	pos, found := 0, false
	for {
		i = skipWS(d, i)
		if i >= len(d) || d[i] == '}' {
			return pos, found
		}
		ks := i
		i = skipString(d, i)
		k := d[ks+1 : i-1]
		match := false
		if bytes.IndexByte(k, '\\') < 0 {
			match = string(k) == key
		} else {
			var s string
			if json.Unmarshal(d[ks:i], &s) == nil {
				match = s == key
			}
		}
		i = skipWS(d, i)
		i++ // ':'
		i = skipWS(d, i)
		if match {
			pos, found = i, true
		}
		i = skipValue(d, i)
		i = skipWS(d, i)
		if i < len(d) && d[i] == ',' {
			i++
		}
	}
}

// findIndex returns the start of element idx (negative: from the end) of
// the array at d[i].
func (w *jsonWalker) findIndex(d []byte, i, idx int) (int, bool) {
	i++ // '['
	w.starts = w.starts[:0]
	for k := 0; ; k++ {
		i = skipWS(d, i)
		if i >= len(d) || d[i] == ']' {
			break
		}
		if idx >= 0 && k == idx {
			return i, true
		}
		if idx < 0 {
			w.starts = append(w.starts, i)
		}
		i = skipValue(d, i)
		i = skipWS(d, i)
		if i < len(d) && d[i] == ',' {
			i++
		}
	}
	if idx < 0 && -idx <= len(w.starts) {
		return w.starts[len(w.starts)+idx], true
	}
	return 0, false
}
