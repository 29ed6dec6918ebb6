package plugins

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The process-isolation protocol. Conveyor and its child
// `conveyor plugin-host FILE` exchange frames over the child's stdin and
// stdout: one kind byte, a little-endian uint32 payload length, the
// payload. The child speaks first (hello or error); after that every
// request gets exactly one reply. Batches travel as one self-contained
// Arrow IPC stream (schema + one record batch) per frame.
const (
	// child → parent
	frameHello = 'H' // payload: the declaration (JSON)
	frameOK    = 'O' // payload: a batch (IPC), or empty for none
	frameEnd   = 'D' // a source has no more batches
	frameError = 'E' // payload: wireError (JSON)

	// parent → child
	frameCreate  = 'C' // payload: createRequest (JSON)
	frameProcess = 'P' // payload: the input batch (IPC)
	frameNext    = 'N'
	frameFlush   = 'F'
	frameQuit    = 'Q'
)

// maxFrame bounds a frame's payload (a corrupt length must not allocate
// gigabytes).
const maxFrame = 1 << 31

type createRequest struct {
	Stage  string `json:"stage"`
	Sink   bool   `json:"sink"`
	Config string `json:"config"`
	Env    string `json:"env"`
}

// wireError carries an error and the sentinel it wraps across the pipe.
type wireError struct {
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message"`
}

var sentinels = map[string]error{
	"load": ErrLoad, "symbol": ErrMissingSymbol, "api_version": ErrAPIVersion, "metadata": ErrMetadata,
}

func toWire(err error) []byte {
	w := wireError{Message: err.Error()}
	for k, s := range sentinels {
		if errors.Is(err, s) {
			w.Kind = k
		}
	}
	b, _ := json.Marshal(w)
	return b
}

// remoteError is an error reported by the child; Is matches its sentinel.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string        { return e.msg }
func (e *remoteError) Is(target error) bool { return e.kind != nil && target == e.kind }

func fromWire(p []byte) error {
	var w wireError
	if err := json.Unmarshal(p, &w); err != nil {
		return fmt.Errorf("unreadable error from the plugin host: %q", p)
	}
	return &remoteError{msg: w.Message, kind: sentinels[w.Kind]}
}

// frameConn reads and writes frames. Not safe for concurrent use.
type frameConn struct {
	r   *bufio.Reader
	w   *bufio.Writer
	hdr [5]byte
	in  []byte       // payload buffer, reused
	out bytes.Buffer // encoding buffer, reused
}

func newFrameConn(r io.Reader, w io.Writer) *frameConn {
	return &frameConn{r: bufio.NewReaderSize(r, 64<<10), w: bufio.NewWriterSize(w, 64<<10)}
}

// write sends one frame and flushes it.
func (c *frameConn) write(kind byte, payload []byte) error {
	c.hdr[0] = kind
	binary.LittleEndian.PutUint32(c.hdr[1:], uint32(len(payload)))
	if _, err := c.w.Write(c.hdr[:]); err != nil {
		return err
	}
	if _, err := c.w.Write(payload); err != nil {
		return err
	}
	return c.w.Flush()
}

// writeBatch sends b (nil: an empty payload) as an IPC stream.
func (c *frameConn) writeBatch(kind byte, b arrow.RecordBatch, mem memory.Allocator) error {
	if b == nil {
		return c.write(kind, nil)
	}
	c.out.Reset()
	w := ipc.NewWriter(&c.out, ipc.WithSchema(b.Schema()), ipc.WithAllocator(mem))
	if err := w.Write(b); err != nil {
		w.Close()
		return fmt.Errorf("encoding a batch: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("encoding a batch: %w", err)
	}
	return c.write(kind, c.out.Bytes())
}

// read receives one frame. The payload is valid until the next read.
func (c *frameConn) read() (byte, []byte, error) {
	if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.LittleEndian.Uint32(c.hdr[1:])
	if uint64(n) > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes is too large", n)
	}
	if cap(c.in) < int(n) {
		c.in = make([]byte, n)
	}
	c.in = c.in[:n]
	if _, err := io.ReadFull(c.r, c.in); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return c.hdr[0], c.in, nil
}

// decodeBatch reads the batch of an IPC payload into buffers from mem
// (nil for an empty payload).
func decodeBatch(p []byte, mem memory.Allocator) (arrow.RecordBatch, error) {
	if len(p) == 0 {
		return nil, nil
	}
	r, err := ipc.NewReader(bytes.NewReader(p), ipc.WithAllocator(mem))
	if err != nil {
		return nil, fmt.Errorf("decoding a batch: %w", err)
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("decoding a batch: %w", err)
		}
		return nil, errors.New("decoding a batch: the stream holds none")
	}
	b := r.RecordBatch()
	b.Retain()
	return b, nil
}
