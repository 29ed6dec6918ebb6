package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

func TestBuildPlainPrintsTheBlock(t *testing.T) {
	dir := t.TempDir()
	answers := strings.Join([]string{
		"transform", "filter.apply",
		"big bad", // refused: not an id
		"big",
		"load",
		"column,operator,value",
		"amount",
		">=",
		"100",
	}, "\n") + "\n"
	r := conveyor(t, dir, strings.NewReader(answers), "build")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	want := `[[stages]]
id = "big"
function = "filter.apply"
inputs = ["load"]
[stages.config]
column = "amount"
operator = ">="
value = 100
`
	if r.stdout != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s\nstderr:\n%s", r.stdout, want, r.stderr)
	}
	for _, w := range []string{"Which transform?", "use letters, digits", "type any", "one of ==, =, !=, <>, >, >=, <, <=, contains, in"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("questions lack %q:\n%s", w, r.stderr)
		}
	}
	// The answers ending early cancels: exit 130, nothing printed.
	r = conveyor(t, dir, strings.NewReader("source\ncsv.read\n"), "build")
	if r.code != exitInterrupted || r.stdout != "" || !strings.Contains(r.stderr, "nothing was written") {
		t.Fatalf("exit %d stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestStageNewAndAdd(t *testing.T) {
	dir := t.TempDir()
	r := conveyor(t, dir, nil, "stage", "new", "-o", "orders.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	r = conveyor(t, dir, nil, "validate", "orders.toml")
	if r.code != 0 || !strings.Contains(r.stdout, `pipeline "orders" is valid: 3 stages`) {
		t.Fatalf("starter does not validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, kind := range []string{"source", "transform", "sink"} {
		if !strings.Contains(r.stdout, kind) {
			t.Errorf("starter lacks a %s:\n%s", kind, r.stdout)
		}
	}
	r = conveyor(t, dir, nil, "stage", "new", "-o", "orders.toml")
	if r.code != exitInvalid || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("overwrite without --force: exit %d\n%s", r.code, r.stderr)
	}
	// On stdout without -o.
	r = conveyor(t, dir, nil, "stage", "new", "--name", "x")
	if r.code != 0 || !strings.Contains(r.stdout, `name = "x"`) || !strings.Contains(r.stdout, `function = "filter.apply"`) {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Append a sink reading the filter's rejected rows; the default input
	// (the last stage that is not a sink) is offered.
	before, _ := os.ReadFile(filepath.Join(dir, "orders.toml"))
	r = conveyor(t, dir, strings.NewReader("sink\ncsv.write\nrejects\nkeep.errors\nout/rejects.csv\n-\n"), "stage", "add", "orders.toml")
	if r.code != 0 || !strings.Contains(r.stderr, `added stage "rejects" (csv.write) to orders.toml`) {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "choose, comma-separated, - for none [keep]") {
		t.Errorf("the default input offered was not keep:\n%s", r.stderr)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "orders.toml"))
	if !bytes.HasPrefix(after, before) || !strings.HasSuffix(string(after), "[[stages]]\nid = \"rejects\"\nfunction = \"csv.write\"\ninputs = [\"keep.errors\"]\n[stages.config]\npath = \"out/rejects.csv\"\n") {
		t.Fatalf("file after add:\n%s", after)
	}
	r = conveyor(t, dir, nil, "validate", "orders.toml")
	if r.code != 0 || !strings.Contains(r.stdout, "4 stages") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// build --into is the same command; an id already taken is refused
	// while asking.
	r = conveyor(t, dir, strings.NewReader("transform\nlimit.apply\nkeep\ntop\n\n10\n-\n"), "build", "--into", "orders.toml")
	if r.code != 0 || !strings.Contains(r.stderr, `"keep" is already the id of a stage`) {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}

	// A file that would not validate is left as it was (here: the file
	// already has a problem the append cannot fix).
	bad := string(after) + "\n[[stages]]\nid = \"dangling\"\nfunction = \"limit.apply\"\ninputs = [\"nowhere\"]\n[stages.config]\nn = 1\n"
	writeFile(t, filepath.Join(dir, "bad.toml"), bad)
	r = conveyor(t, dir, strings.NewReader("transform\nlimit.apply\nlim\nkeep\n5\n-\n"), "stage", "add", "bad.toml")
	if r.code != exitInvalid || !strings.Contains(r.stderr, `input "nowhere" names no stage`) || !strings.Contains(r.stderr, "left as it was") {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "bad.toml")); string(got) != bad {
		t.Fatal("bad.toml changed")
	}
}

func TestStageNewInteractive(t *testing.T) {
	dir := t.TempDir()
	answers := strings.Join([]string{
		"", // name: the file's base name
		"generate", "gen", "count,columns", "20", `{n = "seq"}`,
		"", // next: a transform
		"limit.apply", "", "", "3", "-",
		"", // next: a sink
		"json.write", "out", "", "out/first.jsonl", "format", "jsonl",
		"", // done
	}, "\n") + "\n"
	r := conveyor(t, dir, strings.NewReader(answers), "stage", "new", "-i", "-o", "demo.toml")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	r = conveyor(t, dir, nil, "run", "demo.toml")
	if r.code != 0 {
		t.Fatalf("the built pipeline does not run: exit %d\n%s", r.code, r.stderr)
	}
	if lines := readLines(t, filepath.Join(dir, "out/first.jsonl")); len(lines) != 3 || lines[0] != `{"n":0}` {
		t.Fatalf("output %q", lines)
	}
}

// ptyTerm runs the conveyor binary with stdin and stderr on a
// pseudo-terminal and stdout on a pipe, and records the screen output.
type ptyTerm struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptmx *os.File
	mu   sync.Mutex
	out  bytes.Buffer // everything the terminal received
	mark int          // screen text before mark was already matched
	done chan struct{}
}

var ansi = regexp.MustCompile(`\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78DEHMNOPZc])`)

// startPTY starts the binary; it skips the test when no pseudo-terminal
// can be had here.
func startPTY(t *testing.T, dir string, stdout *bytes.Buffer, args ...string) *ptyTerm {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal available: %v", err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 140}); err != nil {
		t.Skipf("cannot size the pseudo-terminal: %v", err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "NO_COLOR=1")
	cmd.Stdin, cmd.Stderr = tty, tty
	cmd.Stdout = stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		ptmx.Close()
		tty.Close()
		t.Fatal(err)
	}
	tty.Close()
	p := &ptyTerm{t: t, cmd: cmd, ptmx: ptmx, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		ptmx.Close()
	})
	return p
}

// screen is the terminal output so far without escape sequences.
func (p *ptyTerm) screen() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ansi.ReplaceAllString(p.out.String(), "")
}

// waitFor waits until text appears after what was already matched.
func (p *ptyTerm) waitFor(text string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := p.screen()
		if p.mark > len(s) {
			p.mark = 0
		}
		if i := strings.Index(s[p.mark:], text); i >= 0 {
			p.mark += i + len(text)
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%q did not appear within 30s; the terminal showed:\n%s", text, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *ptyTerm) send(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		if _, err := p.ptmx.Write([]byte(k)); err != nil {
			p.t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond) // one key event at a time
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *ptyTerm) wait() int {
	p.t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		p.t.Fatalf("the program did not exit; the terminal showed:\n%s", p.screen())
	}
	return -1
}

const (
	keyEnter = "\r"
	keyDown  = "\x1b[B"
	keyCtrlU = "\x15"
)

// TestBuildInTerminal drives the interactive forms through a
// pseudo-terminal, as a person at a keyboard would.
func TestBuildInTerminal(t *testing.T) {
	var stdout bytes.Buffer
	p := startPTY(t, t.TempDir(), &stdout, "build")

	// Each answer is recalled on a line once its form closes; the next
	// form is waited for before typing, as a person would.
	p.waitFor("What kind of stage?")
	p.send(keyDown, keyEnter) // transform
	p.waitFor("What kind of stage?: transform")
	p.waitFor("Which transform?")
	p.send("/")
	p.send(strings.Split("filter.apply", "")...)
	p.send(keyEnter)
	p.waitFor("Which transform?: filter.apply")
	p.waitFor("Stage id")
	p.send(keyCtrlU)
	p.send(strings.Split("big one", "")...)
	p.send(keyEnter)
	p.waitFor("use letters, digits") // refused while asking
	p.send(keyCtrlU)
	p.send(strings.Split("big", "")...)
	p.send(keyEnter)
	p.waitFor("Stage id: big")
	p.waitFor("Inputs")
	p.send(strings.Split("load", "")...)
	p.send(keyEnter)
	p.waitFor("Inputs: load")
	p.waitFor("Optional parameters to set")
	p.send(" ", keyDown, " ", keyDown, " ", keyEnter) // column, operator, value
	p.waitFor("Optional parameters to set: column, operator, value")
	p.waitFor("Column to test")
	p.send(strings.Split("amount", "")...)
	p.send(keyEnter)
	p.waitFor("column: amount")
	p.waitFor("one of ==, =")
	p.send(keyDown, keyDown, keyDown, keyDown, keyDown, keyEnter) // ==, =, !=, <>, >, >=
	p.waitFor("operator: >=")
	p.waitFor("type any")
	p.send("1", "0", "0", keyEnter)
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; the terminal showed:\n%s", code, p.screen())
	}
	want := `[[stages]]
id = "big"
function = "filter.apply"
inputs = ["load"]
[stages.config]
column = "amount"
operator = ">="
value = 100
`
	if stdout.String() != want {
		t.Fatalf("printed:\n%s\nwant:\n%s\nthe terminal showed:\n%s", stdout.String(), want, p.screen())
	}
}

// TestBuildInTerminalCancel: Ctrl-C in a form cancels without output.
func TestBuildInTerminalCancel(t *testing.T) {
	var stdout bytes.Buffer
	p := startPTY(t, t.TempDir(), &stdout, "build")
	p.waitFor("What kind of stage?")
	p.send("\x03")
	if code := p.wait(); code != exitInterrupted {
		t.Fatalf("exit %d; the terminal showed:\n%s", code, p.screen())
	}
	<-p.done
	if stdout.Len() != 0 || !strings.Contains(p.screen(), "nothing was written") {
		t.Fatalf("stdout %q; the terminal showed:\n%s", stdout.String(), p.screen())
	}
}
