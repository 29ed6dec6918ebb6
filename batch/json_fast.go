package batch

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseObjectFast is ParseObject's scanner: one pass over the text, no
// reflection, no token objects. It returns ok = false (and no error) when it
// meets something it does not handle itself, and ParseObject then falls
// back to encoding/json, which also words the error messages.
func parseObjectFast(text []byte) (m map[string]any, keys []string, ok bool) {
	p := fastParser{s: text}
	p.ws()
	if !p.eat('{') {
		return nil, nil, false
	}
	m = make(map[string]any, 8)
	p.ws()
	if p.eat('}') {
		p.ws()
		return m, nil, p.i == len(p.s)
	}
	for {
		p.ws()
		k, good := p.str()
		if !good {
			return nil, nil, false
		}
		p.ws()
		if !p.eat(':') {
			return nil, nil, false
		}
		p.ws()
		v, good := p.value()
		if !good {
			return nil, nil, false
		}
		if _, dup := m[k]; !dup {
			keys = append(keys, k)
		}
		m[k] = v
		p.ws()
		if p.eat(',') {
			continue
		}
		if !p.eat('}') {
			return nil, nil, false
		}
		p.ws()
		return m, keys, p.i == len(p.s)
	}
}

type fastParser struct {
	s []byte
	i int
}

func (p *fastParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *fastParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string, unescaping it.
func (p *fastParser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			s := string(p.s[start:p.i])
			p.i++
			return s, true
		case c == '\\':
			return p.strEscaped(start)
		case c < 0x20:
			return "", false
		case c >= 0x80:
			r, size := utf8.DecodeRune(p.s[p.i:])
			if r == utf8.RuneError && size == 1 {
				return "", false // invalid UTF-8: let encoding/json decide
			}
			p.i += size
		default:
			p.i++
		}
	}
	return "", false
}

func (p *fastParser) strEscaped(start int) (string, bool) {
	buf := append([]byte(nil), p.s[start:p.i]...)
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), true
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", false
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, good := p.hex4()
				if !good {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						var ok2 bool
						if r2, ok2 = p.hex4(); !ok2 {
							return "", false
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
						} else {
							p.i = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		default:
			buf = append(buf, c)
			p.i++
		}
	}
	return "", false
}

func (p *fastParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.s[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// value reads one member value: nil, bool, string, json.Number, or the
// compacted json.RawMessage of a nested object or array.
func (p *fastParser) value() (any, bool) {
	if p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.word("true")
	case c == 'f':
		return false, p.word("false")
	case c == 'n':
		return nil, p.word("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == '{' || c == '[':
		start := p.i
		if !p.skipNested() {
			return nil, false
		}
		raw := p.s[start:p.i]
		if !json.Valid(raw) {
			return nil, false
		}
		var buf bytes.Buffer
		buf.Grow(len(raw))
		if err := json.Compact(&buf, raw); err != nil {
			return nil, false
		}
		return json.RawMessage(buf.Bytes()), true
	}
	return nil, false
}

func (p *fastParser) word(w string) bool {
	if p.i+len(w) > len(p.s) || string(p.s[p.i:p.i+len(w)]) != w {
		return false
	}
	p.i += len(w)
	return true
}

// number reads a JSON number, validating its grammar.
func (p *fastParser) number() (any, bool) {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.i < len(p.s) && p.s[p.i] >= '1' && p.s[p.i] <= '9':
		p.digits()
	default:
		return nil, false
	}
	if p.eat('.') {
		if !p.digits() {
			return nil, false
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if !p.eat('+') {
			p.eat('-')
		}
		if !p.digits() {
			return nil, false
		}
	}
	return json.Number(p.s[start:p.i]), true
}

func (p *fastParser) digits() bool {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// skipNested moves past one nested object or array (strings respected).
func (p *fastParser) skipNested() bool {
	depth := 0
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				p.i++
				return true
			}
		case '"':
			p.i++
			for p.i < len(p.s) && p.s[p.i] != '"' {
				if p.s[p.i] == '\\' {
					p.i++
				}
				p.i++
			}
		}
		p.i++
	}
	return false
}
