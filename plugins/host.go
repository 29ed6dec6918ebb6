package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory/mallocator"
	"golang.org/x/sys/unix"
)

// HostMain is the child side of process isolation, run by
// `conveyor plugin-host FILE`: it loads FILE in this process, answers the
// parent's requests on stdin/stdout (see protocol.go) and returns the exit
// status. Standard output is kept for the protocol: file descriptor 1 is
// pointed at standard error first, so whatever the plugin prints cannot
// corrupt a frame.
func HostMain(args []string) int {
	if len(args) != 1 {
		fmt.Fprintf(os.Stderr, "usage: conveyor %s FILE (started by conveyor for plugins with isolation = \"process\")\n", HostCommand)
		return 2
	}
	fd, err := unix.Dup(1)
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugin host: %v\n", err)
		return 1
	}
	if err := unix.Dup2(2, 1); err != nil {
		fmt.Fprintf(os.Stderr, "plugin host: %v\n", err)
		return 1
	}
	out := os.NewFile(uintptr(fd), "protocol")
	defer out.Close()
	return serve(args[0], os.Stdin, out)
}

// serve runs the protocol until the parent quits or closes stdin.
func serve(path string, in io.Reader, out io.Writer) int {
	conn := newFrameConn(in, out)
	lib, err := loadLibrary(path)
	if err != nil {
		_ = conn.write(frameError, toWire(err))
		return 1
	}
	hello, _ := json.Marshal(lib.d)
	if err := conn.write(frameHello, hello); err != nil {
		return 1
	}
	// Batches are decoded into C memory: the plugin may keep their buffers
	// after a call (moved into its output), which Go memory must not be.
	mem := mallocator.NewMallocator()
	var inst *nativeInstance
	defer func() {
		if inst != nil {
			inst.destroy()
		}
	}()
	reply := func(b arrow.RecordBatch, err error) error {
		if err != nil {
			return conn.write(frameError, toWire(err))
		}
		werr := conn.writeBatch(frameOK, b, mem)
		if b != nil {
			b.Release()
		}
		return werr
	}
	for {
		kind, payload, stream, err := conn.read()
		if err != nil {
			return 0 // the parent went away
		}
		var in arrow.RecordBatch
		if stream {
			if in, err = conn.readBatch(mem); err != nil {
				fmt.Fprintf(os.Stderr, "plugin host: %v\n", err)
				return 1 // out of step with the parent
			}
		}
		var werr error
		switch {
		case kind == frameQuit:
			return 0
		case kind == frameCreate:
			if inst != nil {
				werr = conn.write(frameError, toWire(fmt.Errorf("instance already created")))
				break
			}
			inst, err = createFromRequest(lib, payload)
			werr = reply(nil, err)
		case inst == nil:
			werr = conn.write(frameError, toWire(fmt.Errorf("request %q before create", kind)))
		case kind == frameProcess && in != nil:
			outb, err := inst.process(context.Background(), in)
			werr = reply(outb, err)
		case kind == frameNext:
			b, end, err := inst.next(context.Background())
			if err == nil && end {
				werr = conn.write(frameEnd, nil)
				break
			}
			werr = reply(b, err)
		case kind == frameFlush:
			werr = reply(inst.flush(context.Background()))
		default:
			werr = conn.write(frameError, toWire(fmt.Errorf("unknown request %q", kind)))
		}
		if in != nil {
			in.Release()
		}
		if werr != nil {
			return 1
		}
	}
}

func createFromRequest(lib *library, payload []byte) (*nativeInstance, error) {
	var req createRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("bad create request: %v", err)
	}
	for i, js := range lib.d.Specs {
		var s struct {
			Name string `json:"name"`
		}
		if json.Unmarshal([]byte(js), &s) == nil && s.Name == req.Stage {
			return lib.newNative(i, req.Stage, req.Sink, req.Config, req.Env)
		}
	}
	return nil, fmt.Errorf("the plugin has no stage %q", req.Stage)
}
