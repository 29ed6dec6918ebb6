package builder

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ErrAborted is returned when the person answering stops (Ctrl-C, or
// the end of the input of a LinePrompter).
var ErrAborted = errors.New("cancelled")

// Option is one choice of a Select or MultiSelect question.
type Option struct {
	// Label is what is shown; Value is what is returned.
	Label, Value string
}

// SelectQuestion asks to choose one option.
type SelectQuestion struct {
	Title, Help string
	Options     []Option
	// Default is the value chosen when the answer is empty ("" = first).
	Default string
}

// MultiSelectQuestion asks to choose any number of options; the answer
// keeps the options' order.
type MultiSelectQuestion struct {
	Title, Help string
	Options     []Option
	// Defaults are chosen to begin with.
	Defaults []string
	// Validate, when set, checks the whole choice.
	Validate func([]string) error
}

// InputQuestion asks for a line of text.
type InputQuestion struct {
	Title, Help string
	// Default is the text offered to begin with (editable).
	Default string
	// Placeholder is shown greyed out when the text is empty.
	Placeholder string
	// Validate checks the text as it is typed; an answer is only accepted
	// when it returns nil.
	Validate func(string) error
}

// ConfirmQuestion asks yes or no.
type ConfirmQuestion struct {
	Title, Help string
	Default     bool
}

// Prompter asks questions. Implementations must only return answers that
// pass the question's Validate (asking again otherwise), and ErrAborted
// when the person gives up.
type Prompter interface {
	Select(SelectQuestion) (string, error)
	MultiSelect(MultiSelectQuestion) ([]string, error)
	Input(InputQuestion) (string, error)
	Confirm(ConfirmQuestion) (bool, error)
	// Note shows a message that needs no answer.
	Note(title, text string)
}

// LinePrompter asks questions one line at a time on plain streams: a pipe,
// a file of answers, or a terminal read by a screen reader. Options are
// chosen by value or by number; a multiple choice is a comma-separated
// list; an empty line takes the default. An invalid answer is explained
// and the question asked again. The end of input is ErrAborted.
type LinePrompter struct {
	in  *bufio.Reader
	out io.Writer
}

// NewLinePrompter reads answers from in and writes questions to out.
func NewLinePrompter(in io.Reader, out io.Writer) *LinePrompter {
	return &LinePrompter{in: bufio.NewReader(in), out: out}
}

func (l *LinePrompter) readLine() (string, error) {
	s, err := l.in.ReadString('\n')
	if err != nil && (s == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			fmt.Fprintln(l.out)
			return "", fmt.Errorf("%w: the input ended before the answer", ErrAborted)
		}
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (l *LinePrompter) header(title, help string) {
	fmt.Fprintf(l.out, "\n%s\n", title)
	if help != "" {
		for _, line := range strings.Split(help, "\n") {
			fmt.Fprintf(l.out, "  %s\n", line)
		}
	}
}

func (l *LinePrompter) options(opts []Option, marked func(string) bool) {
	for i, o := range opts {
		mark := " "
		if marked(o.Value) {
			mark = "*"
		}
		fmt.Fprintf(l.out, " %s%2d) %s\n", mark, i+1, o.Label)
	}
}

// pick resolves one answer to an option value: its number, its value, or
// a unique prefix of its value.
func pick(opts []Option, s string) (string, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > len(opts) {
			return "", fmt.Errorf("choose a number from 1 to %d", len(opts))
		}
		return opts[n-1].Value, nil
	}
	var prefixed []string
	for _, o := range opts {
		if o.Value == s {
			return s, nil
		}
		if strings.HasPrefix(o.Value, s) {
			prefixed = append(prefixed, o.Value)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0], nil
	}
	if len(prefixed) > 1 {
		return "", fmt.Errorf("%q could be %s", s, strings.Join(prefixed, ", "))
	}
	return "", fmt.Errorf("%q is not one of the choices", s)
}

// Select asks for one option.
func (l *LinePrompter) Select(q SelectQuestion) (string, error) {
	def := q.Default
	if def == "" && len(q.Options) > 0 {
		def = q.Options[0].Value
	}
	l.header(q.Title, q.Help)
	l.options(q.Options, func(v string) bool { return v == def })
	for {
		fmt.Fprintf(l.out, "choose [%s]: ", def)
		s, err := l.readLine()
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(s) == "" {
			return def, nil
		}
		v, err := pick(q.Options, s)
		if err == nil {
			return v, nil
		}
		fmt.Fprintf(l.out, "  %v\n", err)
	}
}

// MultiSelect asks for a comma-separated list of options ("-" for none).
func (l *LinePrompter) MultiSelect(q MultiSelectQuestion) ([]string, error) {
	l.header(q.Title, q.Help)
	l.options(q.Options, func(v string) bool { return slices.Contains(q.Defaults, v) })
	for {
		fmt.Fprintf(l.out, "choose, comma-separated, - for none [%s]: ", strings.Join(q.Defaults, ","))
		s, err := l.readLine()
		if err != nil {
			return nil, err
		}
		var chosen []string
		switch strings.TrimSpace(s) {
		case "":
			chosen = append(chosen, q.Defaults...)
		case "-":
		default:
			for _, part := range strings.Split(s, ",") {
				if strings.TrimSpace(part) == "" {
					continue
				}
				v, perr := pick(q.Options, part)
				if perr != nil {
					err = perr
					break
				}
				if !slices.Contains(chosen, v) {
					chosen = append(chosen, v)
				}
			}
		}
		if err == nil && q.Validate != nil {
			err = q.Validate(chosen)
		}
		if err == nil {
			return inOptionOrder(q.Options, chosen), nil
		}
		fmt.Fprintf(l.out, "  %v\n", err)
	}
}

// inOptionOrder sorts chosen values by their options' order.
func inOptionOrder(opts []Option, chosen []string) []string {
	out := make([]string, 0, len(chosen))
	for _, o := range opts {
		if slices.Contains(chosen, o.Value) {
			out = append(out, o.Value)
		}
	}
	return out
}

// Input asks for a line of text; an empty line takes the default.
func (l *LinePrompter) Input(q InputQuestion) (string, error) {
	l.header(q.Title, q.Help)
	for {
		if q.Default != "" {
			fmt.Fprintf(l.out, "> [%s] ", q.Default)
		} else {
			fmt.Fprint(l.out, "> ")
		}
		s, err := l.readLine()
		if err != nil {
			return "", err
		}
		if s == "" {
			s = q.Default
		}
		if q.Validate != nil {
			if err := q.Validate(s); err != nil {
				fmt.Fprintf(l.out, "  %v\n", err)
				continue
			}
		}
		return s, nil
	}
}

// Confirm asks yes or no.
func (l *LinePrompter) Confirm(q ConfirmQuestion) (bool, error) {
	l.header(q.Title, q.Help)
	hint := "y/N"
	if q.Default {
		hint = "Y/n"
	}
	for {
		fmt.Fprintf(l.out, "[%s]: ", hint)
		s, err := l.readLine()
		if err != nil {
			return false, err
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "":
			return q.Default, nil
		case "y", "yes", "true":
			return true, nil
		case "n", "no", "false":
			return false, nil
		}
		fmt.Fprintln(l.out, "  answer y or n")
	}
}

// Note prints a message.
func (l *LinePrompter) Note(title, text string) {
	l.header(title, text)
}
