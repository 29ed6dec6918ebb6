package expr

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors, for errors.Is. Every error type of this package unwraps
// to one of them.
var (
	// ErrSyntax: the expression does not parse (*SyntaxError).
	ErrSyntax = errors.New("expression syntax error")
	// ErrType: the expression does not type-check (*TypeError).
	ErrType = errors.New("expression type error")
	// ErrUnknownColumn: a column reference names no column of the schema
	// (*UnknownColumnError).
	ErrUnknownColumn = errors.New("unknown column")
	// ErrEval: a value cannot be evaluated (a uint64 above the int64 range).
	ErrEval = errors.New("expression evaluation error")
)

// SyntaxError is a parse error. Pos is the byte offset in Src, Col the
// 1-based rune column (within its line, Line being 1-based, when the source
// has several lines).
type SyntaxError struct {
	Src  string
	Pos  int
	Line int
	Col  int
	Msg  string
}

func (e *SyntaxError) Error() string { return caretMessage(e.Src, e.Pos, e.Msg) }
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// TypeError is a type-checking error at Pos (byte offset) / Col (1-based
// rune column) of Src, e.g. `cannot compare string with int`.
type TypeError struct {
	Src  string
	Pos  int
	Line int
	Col  int
	Msg  string
}

func (e *TypeError) Error() string { return caretMessage(e.Src, e.Pos, e.Msg) }
func (e *TypeError) Unwrap() error { return ErrType }

// UnknownColumnError reports a reference to a column the schema does not
// have, with the nearest existing name as Suggestion ("" when none is
// close).
type UnknownColumnError struct {
	Column     string
	Suggestion string
	Available  []string
	Src        string
	Pos        int
	Line       int
	Col        int
}

func (e *UnknownColumnError) Error() string {
	msg := fmt.Sprintf("unknown column %q", e.Column)
	if e.Suggestion != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", e.Suggestion)
	}
	if e.Src == "" {
		return msg
	}
	return msg + "\n" + caretLines(e.Src, e.Pos)
}
func (e *UnknownColumnError) Unwrap() error { return ErrUnknownColumn }

// position returns the 1-based line and rune column of byte offset pos.
func position(src string, pos int) (line, col int) {
	if pos > len(src) {
		pos = len(src)
	}
	if pos < 0 {
		pos = 0
	}
	start := strings.LastIndexByte(src[:pos], '\n') + 1
	line = strings.Count(src[:pos], "\n") + 1
	return line, utf8.RuneCountInString(src[start:pos]) + 1
}

func caretMessage(src string, pos int, msg string) string {
	line, col := position(src, pos)
	head := fmt.Sprintf("column %d: %s", col, msg)
	if strings.Contains(src, "\n") {
		head = fmt.Sprintf("line %d, column %d: %s", line, col, msg)
	}
	return head + "\n" + caretLines(src, pos)
}

// caretLines renders the source line holding pos and a caret under it.
func caretLines(src string, pos int) string {
	if pos > len(src) {
		pos = len(src)
	}
	if pos < 0 {
		pos = 0
	}
	start := strings.LastIndexByte(src[:pos], '\n') + 1
	end := strings.IndexByte(src[pos:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += pos
	}
	text := src[start:end]
	var pad strings.Builder
	for _, r := range src[start:pos] {
		if r == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	return "  " + text + "\n  " + pad.String() + "^"
}

func newSyntaxError(src string, pos int, format string, args ...any) *SyntaxError {
	line, col := position(src, pos)
	return &SyntaxError{Src: src, Pos: pos, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func newTypeError(src string, pos int, format string, args ...any) *TypeError {
	line, col := position(src, pos)
	return &TypeError{Src: src, Pos: pos, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}
