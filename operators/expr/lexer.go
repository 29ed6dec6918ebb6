package expr

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF      tokKind = iota
	tIdent            // bare identifier or keyword
	tQIdent           // `backquoted` column name
	tInt              // integer literal (text in tok.text)
	tFloat            // float literal
	tString           // 'string' or "string" (value in tok.text)
	tDuration         // 5m, 1h30m (value in tok.num, µs)
	tOp               // operator or punctuation (text in tok.text)
)

type token struct {
	kind tokKind
	pos  int
	text string
	num  int64
	f    float64
}

type lexer struct {
	src string
	pos int
}

func (l *lexer) errf(pos int, format string, args ...any) error {
	return newSyntaxError(l.src, pos, format, args...)
}

// next scans one token.
func (l *lexer) next() (token, error) {
	src := l.src
	for l.pos < len(src) {
		c := src[l.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			l.pos++
			continue
		}
		break
	}
	start := l.pos
	if l.pos >= len(src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := src[l.pos]
	switch {
	case c >= '0' && c <= '9', c == '.' && l.pos+1 < len(src) && isDigit(src[l.pos+1]):
		return l.number()
	case c == '\'' || c == '"':
		s, err := l.quoted(c)
		if err != nil {
			return token{}, err
		}
		return token{kind: tString, pos: start, text: s}, nil
	case c == '`':
		s, err := l.quoted(c)
		if err != nil {
			return token{}, err
		}
		if s == "" {
			return token{}, l.errf(start, "empty column name ``")
		}
		return token{kind: tQIdent, pos: start, text: s}, nil
	}
	r, size := utf8.DecodeRuneInString(src[l.pos:])
	if r != utf8.RuneError && isIdentStart(r) {
		l.pos += size
		for l.pos < len(src) {
			r, size := utf8.DecodeRuneInString(src[l.pos:])
			if r == utf8.RuneError || !isIdentPart(r) {
				break
			}
			l.pos += size
		}
		return token{kind: tIdent, pos: start, text: src[start:l.pos]}, nil
	}
	// Operators: two-character ones first.
	if l.pos+1 < len(src) {
		switch two := src[l.pos : l.pos+2]; two {
		case "==", "!=", "<>", "<=", ">=", "&&", "||":
			l.pos += 2
			return token{kind: tOp, pos: start, text: two}, nil
		}
	}
	switch c {
	case '(', ')', ',', '+', '-', '*', '/', '%', '=', '<', '>', '!':
		l.pos++
		return token{kind: tOp, pos: start, text: src[start:l.pos]}, nil
	}
	if r == utf8.RuneError && size <= 1 {
		return token{}, l.errf(start, "invalid UTF-8 byte 0x%02x", c)
	}
	return token{}, l.errf(start, "unexpected character %q", r)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

// quoted scans a string or backquoted name; the quote character is escaped
// by doubling it. No backslash escapes: '\d+' is the three characters.
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var sb strings.Builder
	for {
		i := strings.IndexByte(l.src[l.pos:], q)
		if i < 0 {
			what := "string"
			if q == '`' {
				what = "column name"
			}
			return "", l.errf(start, "unterminated %s: missing closing %c", what, q)
		}
		sb.WriteString(l.src[l.pos : l.pos+i])
		l.pos += i + 1
		if l.pos < len(l.src) && l.src[l.pos] == q {
			sb.WriteByte(q)
			l.pos++
			continue
		}
		return sb.String(), nil
	}
}

// number scans an integer, a float or a duration (a number followed by a
// unit, possibly repeated: 1h30m).
func (l *lexer) number() (token, error) {
	src, start := l.src, l.pos
	l.digits()
	isFloat := false
	if l.pos < len(src) && src[l.pos] == '.' && l.pos+1 < len(src) && isDigit(src[l.pos+1]) {
		isFloat = true
		l.pos++
		l.digits()
	} else if l.pos < len(src) && src[l.pos] == '.' && (l.pos+1 >= len(src) || !isLetter(src[l.pos+1])) {
		// "1." is a float.
		isFloat = true
		l.pos++
	}
	if l.pos < len(src) && (src[l.pos] == 'e' || src[l.pos] == 'E') {
		j := l.pos + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		if j < len(src) && isDigit(src[j]) {
			isFloat = true
			l.pos = j
			l.digits()
		}
	}
	if l.pos < len(src) && isLetter(src[l.pos]) {
		l.pos = start
		return l.duration()
	}
	text := src[start:l.pos]
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			return token{}, l.errf(start, "number %s out of range", text)
		}
		return token{kind: tFloat, pos: start, text: text, f: f}, nil
	}
	return token{kind: tInt, pos: start, text: text}, nil
}

func (l *lexer) digits() {
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
		l.pos++
	}
}

var durationUnits = []struct {
	name string
	us   float64
}{
	// Longest names first.
	{"ms", 1e3}, {"us", 1}, {"µs", 1}, {"d", 86_400e6}, {"h", 3_600e6}, {"m", 60e6}, {"s", 1e6}, {"w", 7 * 86_400e6},
}

// duration scans a duration literal: one or more <number><unit> with units
// us (or µs), ms, s, m, h, d, w.
func (l *lexer) duration() (token, error) {
	src, start := l.src, l.pos
	var total float64
	var exact int64 = 0
	exactOK := true
	for l.pos < len(src) && (isDigit(src[l.pos]) || src[l.pos] == '.') {
		ns := l.pos
		l.digits()
		frac := false
		if l.pos < len(src) && src[l.pos] == '.' {
			frac = true
			l.pos++
			l.digits()
		}
		numText := src[ns:l.pos]
		us := 0.0
		matched := ""
		for _, u := range durationUnits {
			if strings.HasPrefix(src[l.pos:], u.name) {
				matched, us = u.name, u.us
				break
			}
		}
		if matched == "" {
			end := l.pos
			for end < len(src) && isLetter(src[end]) {
				end++
			}
			return token{}, l.errf(start, "invalid number or duration %q (duration units: us, ms, s, m, h, d, w)", src[start:end])
		}
		l.pos += len(matched)
		v, err := strconv.ParseFloat(numText, 64)
		if err != nil {
			return token{}, l.errf(ns, "invalid duration %q", src[start:l.pos])
		}
		total += v * us
		if !frac && exactOK {
			iv, err := strconv.ParseInt(numText, 10, 64)
			if err != nil || iv > math.MaxInt64/int64(us) || exact > math.MaxInt64-iv*int64(us) {
				exactOK = false
			} else {
				exact += iv * int64(us)
			}
		} else {
			exactOK = false
		}
	}
	if l.pos < len(src) && isLetter(src[l.pos]) {
		end := l.pos
		for end < len(src) && isLetter(src[end]) {
			end++
		}
		return token{}, l.errf(start, "invalid duration %q (units: us, ms, s, m, h, d, w)", src[start:end])
	}
	if exactOK {
		return token{kind: tDuration, pos: start, text: src[start:l.pos], num: exact}, nil
	}
	if total >= math.MaxInt64 || math.IsNaN(total) {
		return token{}, l.errf(start, "duration %s out of range", src[start:l.pos])
	}
	return token{kind: tDuration, pos: start, text: src[start:l.pos], num: int64(math.Round(total))}, nil
}
