package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/internal/builder"
)

// isTerminal reports whether a stream is a terminal (TERM=dumb counts as
// not one: it cannot move the cursor).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isatty.IsTerminal(file.Fd()) || isatty.IsCygwinTerminal(file.Fd())
}

// newPrompter asks with interactive forms when stdin and stderr are
// terminals, and line by line otherwise (or with --plain). Questions go to
// stderr so that stdout carries only the result.
func newPrompter(cmd *cobra.Command, plain bool) builder.Prompter {
	in, out := cmd.InOrStdin(), cmd.ErrOrStderr()
	if !plain && isTerminal(in) && isTerminal(out) {
		return &builder.Terminal{In: in, Out: out}
	}
	return builder.NewLinePrompter(in, out)
}

// builderErr turns a builder error into the command's exit status.
func builderErr(err error) error {
	if errors.Is(err, builder.ErrAborted) {
		return &exitError{exitInterrupted, fmt.Errorf("%w; nothing was written", err)}
	}
	return &exitError{exitInvalid, err}
}

const plainHelp = "ask line by line (numbers or names; comma-separated for several) instead of with interactive forms; the default when stdin or stderr is not a terminal"

func newBuildCmd() *cobra.Command {
	var into string
	var plain bool
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build a stage interactively and print its TOML (or append it to a pipeline)",
		Long: `Build asks for a stage step by step: its kind (source, transform, sink), its
function (listed with summaries), its id, its inputs, then each parameter —
the required ones first, then those you choose among the optional ones —
showing each one's type, default and allowed values. Every answer is checked
as it is given, by the same spec checks the validator uses, and refused with
the reason until it is valid; parameters that must fit together (filter.apply's
expr or column/operator/value) are checked once all are given.

Without --into, the [[stages]] block is printed on stdout (questions go to
stderr), and inputs are typed as stage ids. With --into FILE, inputs are
chosen among the stages of FILE (and their errors/late ports), and the block
is appended to FILE only if the whole pipeline still validates; otherwise
FILE is left as it was.

On a terminal the questions are interactive forms (arrow keys, / to filter a
list, space to tick, Enter to answer, Ctrl-C to cancel). Otherwise, or with
--plain, they are asked line by line, so that answers can be piped in.`,
		Example: `  conveyor build
  conveyor build --into pipeline.toml
  printf 'source\ncsv.read\nload\ndata/in.csv\n-\n' | conveyor build --plain`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if into != "" {
				return addStage(cmd, into, plain)
			}
			b := &builder.Builder{Reg: mustRegistry(), P: newPrompter(cmd, plain)}
			st, err := b.Stage(builder.Context{})
			if err != nil {
				return builderErr(err)
			}
			fmt.Fprint(cmd.OutOrStdout(), st.TOML())
			return nil
		},
	}
	cmd.Flags().StringVar(&into, "into", "", "append the stage to this pipeline file (after re-validating it)")
	cmd.Flags().BoolVar(&plain, "plain", false, plainHelp)
	return cmd
}

// addStage builds a stage for the pipeline file at path and appends it.
func addStage(cmd *cobra.Command, path string, plain bool) error {
	reg := mustRegistry()
	c, src, err := builder.FileContext(path, reg)
	if err != nil {
		return &exitError{exitInvalid, err}
	}
	b := &builder.Builder{Reg: reg, P: newPrompter(cmd, plain)}
	st, err := b.Stage(c)
	if err != nil {
		return builderErr(err)
	}
	if err := builder.Append(path, src, st.TOML(), reg); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "the stage was:\n\n%s\n", st.TOML())
		return &exitError{exitInvalid, err}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "added stage %q (%s) to %s\n", st.ID, st.Function, path)
	return nil
}

func newStageNewCmd() *cobra.Command {
	var out, name string
	var interactive, force, plain bool
	cmd := &cobra.Command{
		Use:   "new [-o FILE] [-i]",
		Short: "Write a starter pipeline (source -> transform -> sink), or build one interactively",
		Long: `New writes a starter pipeline: a csv.read source, a filter.apply transform
and a json.write sink, with comments saying what to change. It validates as
written. Without -o it is printed on stdout; -o FILE writes it (an existing
FILE is only replaced with --force).

With -i the pipeline is built interactively: its name, a source, then
transforms, sinks or more sources until you choose "done" — each stage
asked for as by ` + "`conveyor build`" + `, and reading the previous stage by default.`,
		Example: `  conveyor stage new -o pipeline.toml
  conveyor stage new -i -o pipeline.toml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out != "" && !force {
				if _, err := os.Stat(out); err == nil {
					return &exitError{exitInvalid, fmt.Errorf("%s already exists (use --force to replace it)", out)}
				}
			}
			if name == "" {
				name = "pipeline"
				if out != "" {
					name = strings.TrimSuffix(filepath.Base(out), filepath.Ext(out))
				}
			}
			text := builder.Starter(name)
			if interactive {
				b := &builder.Builder{Reg: mustRegistry(), P: newPrompter(cmd, plain)}
				var err error
				if text, err = b.Pipeline(name); err != nil {
					return builderErr(err)
				}
			}
			if out == "" {
				_, err := io.WriteString(cmd.OutOrStdout(), text)
				return err
			}
			if err := builder.WriteFile(out, []byte(text)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s; check it with `conveyor validate %s`, run it with `conveyor run %s`\n", out, out, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the pipeline to FILE instead of stdout")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "build the pipeline stage by stage")
	cmd.Flags().StringVar(&name, "name", "", "the pipeline's name (default: the file's base name, or \"pipeline\")")
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	cmd.Flags().BoolVar(&plain, "plain", false, plainHelp)
	return cmd
}

func newStageAddCmd() *cobra.Command {
	var plain bool
	cmd := &cobra.Command{
		Use:   "add FILE",
		Short: "Build a stage interactively and append it to a pipeline file",
		Long: `Add is ` + "`conveyor build --into FILE`" + `: it asks for a stage (inputs chosen among
FILE's stages, the last non-sink stage offered first), appends its [[stages]]
block to FILE, and re-validates the whole pipeline first: if it would not be
valid, FILE is left as it was and the problems are reported (exit status 2).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return addStage(cmd, args[0], plain)
		},
	}
	cmd.Flags().BoolVar(&plain, "plain", false, plainHelp)
	return cmd
}
