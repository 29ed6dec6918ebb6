package main

import (
	"fmt"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/conveyor-etl/conveyor/internal/pipetest"
)

func newTestCmd() *cobra.Command {
	var run string
	var verbose bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test [FILE|DIR...]",
		Short: "Run pipeline unit tests (NAME_test.toml beside NAME.toml) in memory",
		Long: `Test runs the cases of pipeline test files. A test file NAME_test.toml sits
beside the pipeline NAME.toml; each [[case]] gives rows to stages
([case.input.STAGE]), runs the pipeline in memory — every source replaced by
the case's rows (or nothing), every sink by an in-memory collector, nothing
real read or written, the clock frozen at the case's now — and compares the
rows that reach stages or sinks with [case.expect.STAGE].

Arguments are test files, pipelines (their NAME_test.toml is run) or
directories (every *_test.toml under them); without arguments, the current
directory. See docs/testing-pipelines.md.

Exit status: 0 when every case passed, 1 when a case failed, 2 when a test
file (or the pipeline it tests) is invalid.`,
		Example: `  conveyor test examples/
  conveyor test examples/sales_test.toml --run 'large orders' -v`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			opts := pipetest.Options{Verbose: verbose, RunOptions: pipetest.RunOptions{Timeout: timeout}}
			if run != "" {
				re, err := regexp.Compile(run)
				if err != nil {
					return &exitError{exitInvalid, fmt.Errorf("--run: %w", err)}
				}
				opts.Filter = re
			}
			files, err := pipetest.Discover(args)
			if err != nil {
				return &exitError{exitInvalid, err}
			}
			sum := pipetest.RunFiles(cmd.OutOrStdout(), files, opts)
			switch code := sum.ExitCode(); code {
			case pipetest.ExitInvalid:
				return &exitError{exitInvalid, fmt.Errorf("invalid test files or cases: %d (see above)", sum.Invalid)}
			case pipetest.ExitFailed:
				return &exitError{exitFailed, fmt.Errorf("failed cases: %d", sum.Failed)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "run only the cases whose name matches this regular expression")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "also detail the cases that pass")
	cmd.Flags().DurationVar(&timeout, "timeout", pipetest.DefaultTimeout, "the longest one case may run")
	return cmd
}
