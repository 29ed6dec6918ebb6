package plugins

import (
	"bufio"
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
// request gets exactly one reply. A batch travels as one self-contained
// Arrow IPC stream (schema, one record batch, end of stream) in place of a
// payload, with the length 0xFFFFFFFF.
const (
	// child → parent
	frameHello = 'H' // payload: the declaration (JSON)
	frameOK    = 'O' // a batch (IPC stream), or an empty payload for none
	frameEnd   = 'D' // a source has no more batches
	frameError = 'E' // payload: wireError (JSON)

	// parent → child
	frameCreate  = 'C' // payload: createRequest (JSON)
	frameProcess = 'P' // the input batch (IPC stream)
	frameNext    = 'N'
	frameFlush   = 'F'
	frameQuit    = 'Q'
)

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

// streamed is the length of a frame whose payload is an Arrow IPC stream
// read straight from the pipe (delimited by its end-of-stream marker),
// which spares copying a batch into and out of a frame buffer.
const streamed = 0xFFFFFFFF

// frameConn reads and writes frames. Not safe for concurrent use.
type frameConn struct {
	r   *bufio.Reader
	w   *bufio.Writer
	hdr [5]byte
	in  []byte // payload buffer, reused
}

func newFrameConn(r io.Reader, w io.Writer) *frameConn {
	return &frameConn{r: bufio.NewReaderSize(r, 1<<20), w: bufio.NewWriterSize(w, 1<<20)}
}

func (c *frameConn) header(kind byte, n uint32) error {
	c.hdr[0] = kind
	binary.LittleEndian.PutUint32(c.hdr[1:], n)
	_, err := c.w.Write(c.hdr[:])
	return err
}

// write sends one frame and flushes it.
func (c *frameConn) write(kind byte, payload []byte) error {
	if len(payload) >= streamed {
		return fmt.Errorf("frame of %d bytes is too large", len(payload))
	}
	if err := c.header(kind, uint32(len(payload))); err != nil {
		return err
	}
	if _, err := c.w.Write(payload); err != nil {
		return err
	}
	return c.w.Flush()
}

// writeBatch sends b (nil: an empty payload) as a streamed frame.
func (c *frameConn) writeBatch(kind byte, b arrow.RecordBatch, mem memory.Allocator) error {
	if b == nil {
		return c.write(kind, nil)
	}
	if err := c.header(kind, streamed); err != nil {
		return err
	}
	w := ipc.NewWriter(c.w, ipc.WithSchema(b.Schema()), ipc.WithAllocator(mem))
	if err := w.Write(b); err != nil {
		w.Close()
		return fmt.Errorf("encoding a batch: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("encoding a batch: %w", err)
	}
	return c.w.Flush()
}

// read receives one frame. For a streamed frame the payload is nil and
// the caller must call readBatch next; otherwise the payload is valid
// until the next read.
func (c *frameConn) read() (kind byte, payload []byte, stream bool, err error) {
	if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
		return 0, nil, false, err
	}
	n := binary.LittleEndian.Uint32(c.hdr[1:])
	if n == streamed {
		return c.hdr[0], nil, true, nil
	}
	if cap(c.in) < int(n) {
		c.in = make([]byte, n)
	}
	c.in = c.in[:n]
	if _, err := io.ReadFull(c.r, c.in); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, false, err
	}
	return c.hdr[0], c.in, false, nil
}

// readBatch decodes the one batch of a streamed frame into buffers from
// mem. An error leaves the connection unusable.
func (c *frameConn) readBatch(mem memory.Allocator) (arrow.RecordBatch, error) {
	r, err := ipc.NewReader(c.r, ipc.WithAllocator(mem))
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
	if r.Next() { // consumes the end-of-stream marker
		b.Release()
		return nil, errors.New("decoding a batch: the stream holds more than one")
	}
	if err := r.Err(); err != nil {
		b.Release()
		return nil, fmt.Errorf("decoding a batch: %w", err)
	}
	return b, nil
}
