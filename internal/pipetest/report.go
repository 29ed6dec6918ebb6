package pipetest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Exit codes of `conveyor test`.
const (
	ExitPassed  = 0
	ExitFailed  = 1
	ExitInvalid = 2
)

// Discover expands the command's arguments into test files: a directory
// gives every *_test.toml under it (recursively), a test file itself, and
// a pipeline NAME.toml the NAME_test.toml beside it.
func Discover(args []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	addFile := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, arg := range args {
		st, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		switch {
		case st.IsDir():
			var found []string
			err := filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && strings.HasSuffix(d.Name(), "_test.toml") {
					found = append(found, p)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			if len(found) == 0 {
				return nil, fmt.Errorf("%s: no test files (*_test.toml) under this directory", arg)
			}
			sort.Strings(found)
			for _, p := range found {
				addFile(p)
			}
		case strings.HasSuffix(arg, "_test.toml"):
			addFile(arg)
		case strings.HasSuffix(arg, ".toml"):
			t := strings.TrimSuffix(arg, ".toml") + "_test.toml"
			if _, err := os.Stat(t); err != nil {
				return nil, fmt.Errorf("%s: no tests for this pipeline (they go in %s)", arg, t)
			}
			addFile(t)
		default:
			return nil, fmt.Errorf("%s: not a test file (NAME_test.toml), a pipeline or a directory", arg)
		}
	}
	return out, nil
}

// Options configure RunFiles.
type Options struct {
	RunOptions
	// Filter, when set, runs only the cases whose name it matches.
	Filter *regexp.Regexp
	// Verbose also details the cases that pass (rows received per
	// expectation).
	Verbose bool
}

// Summary counts the outcomes of RunFiles.
type Summary struct {
	Files, Passed, Failed, Skipped int
	// Invalid counts test files (or cases) that could not run.
	Invalid int
	Elapsed time.Duration
}

// ExitCode is 2 when a test file was invalid, 1 when a case failed, 0
// otherwise.
func (s Summary) ExitCode() int {
	switch {
	case s.Invalid > 0:
		return ExitInvalid
	case s.Failed > 0:
		return ExitFailed
	}
	return ExitPassed
}

// RunFiles runs every case of the test files, in order, and writes the
// report to w: one PASS or FAIL line per case, the differences under each
// failure, and a summary line.
func RunFiles(w io.Writer, files []string, opts Options) Summary {
	var sum Summary
	start := time.Now()
	for _, path := range files {
		sum.Files++
		suite, err := Load(path)
		var parseProbs Problems
		if err != nil && !errors.As(err, &parseProbs) {
			reportInvalid(w, path, err, "")
			sum.Invalid++
			continue
		}
		// The stages a case names are checked even when the file has
		// other problems, so that every problem is reported at once.
		p, err := suite.Prepare()
		var refProbs Problems
		switch {
		case err == nil && len(parseProbs) == 0:
			runSuite(w, p, opts, &sum)
			continue
		case err == nil:
			err = parseProbs
		case errors.As(err, &refProbs):
			all := append(append(Problems{}, parseProbs...), refProbs...)
			sort.SliceStable(all, func(a, b int) bool { return all[a].Line < all[b].Line })
			err = all
		default: // the pipeline itself is invalid
			if len(parseProbs) > 0 {
				reportInvalid(w, path, parseProbs, "")
			}
			reportInvalid(w, path, err, fmt.Sprintf("(the pipeline under test, %s, is invalid)", suite.Pipeline))
			sum.Invalid++
			continue
		}
		reportInvalid(w, path, err, "")
		sum.Invalid++
	}
	sum.Elapsed = time.Since(start)
	parts := []string{fmt.Sprintf("%d passed", sum.Passed)}
	if sum.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", sum.Failed))
	}
	if sum.Invalid > 0 {
		parts = append(parts, fmt.Sprintf("%d invalid", sum.Invalid))
	}
	if sum.Skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", sum.Skipped))
	}
	verdict := "ok"
	if sum.ExitCode() != ExitPassed {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s: %s (%d %s, %s)\n", verdict, strings.Join(parts, ", "), sum.Files, plural(sum.Files, "file", "files"),
		sum.Elapsed.Round(time.Millisecond))
	return sum
}

func reportInvalid(w io.Writer, path string, err error, note string) {
	fmt.Fprintf(w, "INVALID %s\n", path)
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(w, "        %s\n", line)
	}
	if note != "" {
		fmt.Fprintf(w, "        %s\n", note)
	}
}

func runSuite(w io.Writer, p *Prepared, opts Options, sum *Summary) {
	for _, c := range p.Suite.Cases {
		if opts.Filter != nil && !opts.Filter.MatchString(c.Name) {
			sum.Skipped++
			continue
		}
		res := p.Run(c, opts.RunOptions)
		label := fmt.Sprintf("%s: %s", p.Suite.Path, c.Name)
		took := res.Elapsed.Round(time.Millisecond)
		switch {
		case len(res.Problems) > 0:
			sum.Invalid++
			fmt.Fprintf(w, "INVALID %s\n", label)
			for _, pr := range res.Problems {
				fmt.Fprintf(w, "        %s\n", pr.Error())
			}
		case res.Passed():
			sum.Passed++
			fmt.Fprintf(w, "PASS    %s (%s)\n", label, took)
			if opts.Verbose {
				for _, id := range res.Silent {
					fmt.Fprintf(w, "        %q: no input given, emits nothing\n", id)
				}
				for _, e := range c.Expects {
					fmt.Fprintf(w, "        at %q: %d %s received\n", e.Target, res.Received[e.Target], plural(res.Received[e.Target], "row", "rows"))
				}
			}
		default:
			sum.Failed++
			fmt.Fprintf(w, "FAIL    %s (%s)\n", label, took)
			for _, f := range res.Failures {
				for _, line := range strings.Split(f, "\n") {
					fmt.Fprintf(w, "        %s\n", line)
				}
			}
			for i, l := range res.Logs {
				if i == 10 {
					fmt.Fprintf(w, "        log: ... and %d more lines\n", len(res.Logs)-10)
					break
				}
				fmt.Fprintf(w, "        log: %s\n", l)
			}
		}
		if res.Leaked != 0 {
			fmt.Fprintf(w, "        warning: the stages left %d bytes of Arrow memory unreleased\n", res.Leaked)
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
