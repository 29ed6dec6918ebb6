package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// quitTimeout bounds how long a child may take to destroy its instance
// and exit before it is killed.
const quitTimeout = 5 * time.Second

// childEnv is set in the environment of every plugin host.
const childEnv = "CONVEYOR_PLUGIN_HOST_CHILD"

// child is one running `conveyor plugin-host FILE` process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Closer
	conn   *frameConn
	stderr *tail
}

// startChild starts the host process and reads its hello: the plugin's
// declaration as the child loaded it.
func startChild(p *Plugin, logger *slog.Logger) (*child, declaration, error) {
	if os.Getenv(childEnv) != "" {
		// This process was started as a plugin host but did not run
		// HostMain (a test binary without the TestMain hook, say):
		// starting another would recurse.
		return nil, declaration{}, fmt.Errorf("plugin %s: %s was started as a plugin host but did not run `%s`; set Options.HostBinary to a conveyor binary", p.path, os.Args[0], HostCommand)
	}
	cmd := exec.Command(p.opts.HostBinary, HostCommand, p.path)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	// Pipes made here rather than by exec, to enlarge them: a 64 KiB pipe
	// makes a 3 MB batch cost fifty wake-ups of the other side.
	inR, inW, err := pipe()
	if err != nil {
		return nil, declaration{}, err
	}
	outR, outW, err := pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, declaration{}, err
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	t := &tail{logger: logger}
	cmd.Stderr = t
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, declaration{}, fmt.Errorf("plugin %s: starting the plugin host %s: %w", p.path, p.opts.HostBinary, err)
	}
	stdin, stdout := inW, outR
	c := &child{cmd: cmd, stdin: stdin, stdout: stdout, conn: newFrameConn(stdout, stdin), stderr: t}
	kind, payload, _, err := c.conn.read()
	if err != nil {
		return nil, declaration{}, c.died(p.path, "starting", err)
	}
	switch kind {
	case frameHello:
		var d declaration
		if err := json.Unmarshal(payload, &d); err != nil {
			c.kill()
			return nil, d, fmt.Errorf("plugin %s: unreadable hello from the plugin host: %v", p.path, err)
		}
		return c, d, nil
	case frameError:
		err := fromWire(payload)
		c.quit()
		return nil, declaration{}, err
	}
	c.kill()
	return nil, declaration{}, fmt.Errorf("plugin %s: the plugin host %s answered frame %q; is it a conveyor binary?", p.path, p.opts.HostBinary, kind)
}

// describe reads the declaration in a short-lived child.
func (p *Plugin) describe() (declaration, error) {
	c, d, err := startChild(p, nil)
	if err != nil {
		return d, err
	}
	c.quit()
	return d, nil
}

// quit asks the child to destroy its instance and exit, then reaps it.
func (c *child) quit() {
	_ = c.conn.write(frameQuit, nil)
	c.stdin.Close()
	t := time.AfterFunc(quitTimeout, func() { _ = c.cmd.Process.Kill() })
	_ = c.cmd.Wait()
	t.Stop()
	c.stdout.Close()
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	c.stdin.Close()
	_ = c.cmd.Wait()
	c.stdout.Close()
}

// died reaps a child whose pipe failed and describes how it ended.
func (c *child) died(path, during string, ioErr error) error {
	c.stdin.Close()
	t := time.AfterFunc(quitTimeout, func() { _ = c.cmd.Process.Kill() })
	werr := c.cmd.Wait()
	t.Stop()
	c.stdout.Close()
	status := "exited"
	if werr != nil {
		status = werr.Error()
	} else if ioErr != nil {
		status = "closed its pipe: " + ioErr.Error()
	}
	msg := fmt.Sprintf("plugin %s: %v while %s (%s)", path, ErrCrashed, during, status)
	if s := c.stderr.summary(); s != "" {
		msg += ": " + s
	}
	return &remoteError{msg: msg, kind: ErrCrashed}
}

// remoteInstance is a stage instance running in a child process. After
// the child dies, the next call starts a new child and creates the
// instance again (what the dead instance held is lost).
type remoteInstance struct {
	p      *Plugin
	name   string
	req    []byte // the create request
	mem    memory.Allocator
	logger *slog.Logger

	c        *child
	restarts int
	closed   bool
}

func newRemote(p *Plugin, name string, sink bool, config, env string, mem memory.Allocator, logger *slog.Logger) *remoteInstance {
	req, _ := json.Marshal(createRequest{Stage: name, Sink: sink, Config: config, Env: env})
	return &remoteInstance{p: p, name: name, req: req, mem: mem, logger: logger}
}

// ensure starts the child and creates the instance if needed.
func (r *remoteInstance) ensure() error {
	if r.closed {
		return ErrClosed
	}
	if r.c != nil {
		return nil
	}
	c, d, err := startChild(r.p, r.logger)
	if err != nil {
		return err
	}
	if d.Name != r.p.info.Name || d.Version != r.p.info.Version {
		c.quit()
		return fmt.Errorf("plugin %s changed on disk since it was opened (now %s %s)", r.p.path, d.Name, d.Version)
	}
	if err := c.conn.write(frameCreate, r.req); err != nil {
		return c.died(r.p.path, "creating "+r.name, err)
	}
	kind, payload, _, err := c.conn.read()
	if err != nil {
		return c.died(r.p.path, "creating "+r.name, err)
	}
	if kind != frameOK {
		err := fromWire(payload)
		c.quit()
		return err
	}
	if r.restarts > 0 && r.logger != nil {
		r.logger.Warn("plugin host restarted", "plugin", r.p.path, "stage_function", r.name, "restarts", r.restarts)
	}
	r.c = c
	return nil
}

// call sends one request (with b, if not nil) and reads its reply: its
// kind and batch (nil if none). A dead child becomes an ErrCrashed error
// and is replaced on the next call.
func (r *remoteInstance) call(ctx context.Context, kind byte, b arrow.RecordBatch) (byte, arrow.RecordBatch, error) {
	if err := r.ensure(); err != nil {
		return 0, nil, err
	}
	c := r.c
	stop := context.AfterFunc(ctx, func() { _ = c.cmd.Process.Kill() })
	defer stop()
	var err error
	if b != nil {
		err = c.conn.writeBatch(kind, b, r.mem)
	} else {
		err = c.conn.write(kind, nil)
	}
	var (
		rk      byte
		payload []byte
		stream  bool
		out     arrow.RecordBatch
	)
	if err == nil {
		rk, payload, stream, err = c.conn.read()
	}
	if err == nil && stream {
		out, err = c.conn.readBatch(r.mem)
		if err != nil {
			// The stream is out of step: this child cannot be used again.
			_ = c.cmd.Process.Kill()
		}
	}
	if err != nil {
		r.c = nil
		r.restarts++
		derr := c.died(r.p.path, fmt.Sprintf("running %s", r.name), err)
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, derr
	}
	if rk == frameError {
		return 0, nil, fromWire(payload)
	}
	return rk, out, nil
}

func (r *remoteInstance) process(ctx context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	_, out, err := r.call(ctx, frameProcess, in)
	return out, err
}

func (r *remoteInstance) next(ctx context.Context) (arrow.RecordBatch, bool, error) {
	kind, out, err := r.call(ctx, frameNext, nil)
	if err != nil {
		return nil, false, err
	}
	return out, kind == frameEnd, nil
}

func (r *remoteInstance) flush(ctx context.Context) (arrow.RecordBatch, error) {
	_, out, err := r.call(ctx, frameFlush, nil)
	return out, err
}

func (r *remoteInstance) destroy() {
	r.closed = true
	if r.c != nil {
		r.c.quit()
		r.c = nil
	}
}

// tail keeps the end of a child's stderr (for crash reports) and logs
// each line at debug level.
type tail struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    []byte
	line   []byte
}

const tailMax = 16 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailMax:]...)
	}
	if t.logger != nil {
		t.line = append(t.line, p...)
		for {
			i := bytes.IndexByte(t.line, '\n')
			if i < 0 {
				break
			}
			t.logger.Debug("plugin host output", "line", string(t.line[:i]))
			t.line = t.line[i+1:]
		}
		if len(t.line) > tailMax {
			t.line = t.line[:0]
		}
	}
	return len(p), nil
}

// summary picks the lines that say why a process died (a Go runtime
// crash report, a panic, a C library's abort message), or the last line.
func (t *tail) summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var keep []string
	last := ""
	for _, l := range strings.Split(string(t.buf), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "goroutine ") {
			break // the stack dump follows
		}
		last = l
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "[signal ") || strings.HasPrefix(l, "panic:") ||
			strings.HasPrefix(l, "SIG") || strings.Contains(l, "Assertion") || strings.Contains(l, "abort") {
			keep = append(keep, l)
		}
	}
	if len(keep) == 0 && last != "" {
		keep = []string{last}
	}
	if len(keep) > 4 {
		keep = keep[:4]
	}
	return strings.Join(keep, "; ")
}
