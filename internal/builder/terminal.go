package builder

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/huh"
)

// Terminal asks with interactive huh forms, one question at a time: arrow
// keys and / (filter) in lists, space to tick in multiple choices, Enter
// to answer, Ctrl-C to give up. Each answer is recalled on one line
// after the form closes, so the terminal keeps a record of the dialogue.
type Terminal struct {
	In  io.Reader
	Out io.Writer
}

func (t *Terminal) run(field huh.Field) error {
	form := huh.NewForm(huh.NewGroup(field)).WithShowHelp(true).WithOutput(t.Out)
	if t.In != nil {
		form = form.WithInput(t.In)
	}
	err := form.Run()
	if errors.Is(err, huh.ErrUserAborted) || errors.Is(err, huh.ErrTimeout) {
		return ErrAborted
	}
	return err
}

func (t *Terminal) recall(title, answer string) {
	fmt.Fprintf(t.Out, "%s: %s\n", title, answer)
}

func huhOptions(opts []Option) []huh.Option[string] {
	out := make([]huh.Option[string], len(opts))
	for i, o := range opts {
		out[i] = huh.NewOption(o.Label, o.Value)
	}
	return out
}

// listHeight keeps long lists scrolling within a screen.
func listHeight(n int) int { return min(n, 12) + 2 }

// Select asks for one option.
func (t *Terminal) Select(q SelectQuestion) (string, error) {
	v := q.Default
	if v == "" && len(q.Options) > 0 {
		v = q.Options[0].Value
	}
	f := huh.NewSelect[string]().Title(q.Title).Description(q.Help).Options(huhOptions(q.Options)...).Value(&v)
	if len(q.Options) > 12 {
		f = f.Height(listHeight(len(q.Options)))
	}
	if err := t.run(f); err != nil {
		return "", err
	}
	t.recall(q.Title, v)
	return v, nil
}

// MultiSelect asks for any number of options.
func (t *Terminal) MultiSelect(q MultiSelectQuestion) ([]string, error) {
	v := append([]string(nil), q.Defaults...)
	help := q.Help
	if help != "" {
		help += "\n"
	}
	help += "Space ticks an option, Enter answers."
	f := huh.NewMultiSelect[string]().Title(q.Title).Description(help).Options(huhOptions(q.Options)...).Value(&v)
	if len(q.Options) > 12 {
		f = f.Height(listHeight(len(q.Options)))
	}
	if q.Validate != nil {
		f = f.Validate(q.Validate)
	}
	if err := t.run(f); err != nil {
		return nil, err
	}
	v = inOptionOrder(q.Options, v)
	answer := strings.Join(v, ", ")
	if answer == "" {
		answer = "(none)"
	}
	t.recall(q.Title, answer)
	return v, nil
}

// Input asks for a line of text, validated as it is typed.
func (t *Terminal) Input(q InputQuestion) (string, error) {
	v := q.Default
	f := huh.NewInput().Title(q.Title).Description(q.Help).Placeholder(q.Placeholder).Value(&v)
	if q.Validate != nil {
		f = f.Validate(q.Validate)
	}
	if err := t.run(f); err != nil {
		return "", err
	}
	t.recall(q.Title, v)
	return v, nil
}

// Confirm asks yes or no.
func (t *Terminal) Confirm(q ConfirmQuestion) (bool, error) {
	v := q.Default
	f := huh.NewConfirm().Title(q.Title).Description(q.Help).Affirmative("Yes").Negative("No").Value(&v)
	if err := t.run(f); err != nil {
		return false, err
	}
	t.recall(q.Title, fmt.Sprint(v))
	return v, nil
}

// Note prints a message above the next question.
func (t *Terminal) Note(title, text string) {
	fmt.Fprintf(t.Out, "%s:\n  %s\n", title, strings.ReplaceAll(text, "\n", "\n  "))
}
