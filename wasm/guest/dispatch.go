package guest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// The calls below implement the host–guest convention on plain byte
// slices; exports_wasip1.go binds them to the module's exports. They are
// portable so that the SDK can be tested natively.

// Status of a call that returns a batch.
type status uint32

const (
	statusOK    status = 0 // out holds the batch (empty: nothing to emit)
	statusError status = 1 // see lastError
	statusEnd   status = 2 // a source has ended
)

// stageMeta is one stage's metadata as the host reads it.
type stageMeta struct {
	Name        string    `json:"name"`
	Kind        Kind      `json:"kind"`
	Summary     string    `json:"summary"`
	Description string    `json:"description"`
	Tags        []string  `json:"tags,omitempty"`
	Stateful    bool      `json:"stateful,omitempty"`
	Params      []Param   `json:"params"`
	Examples    []Example `json:"examples"`
}

// pluginMeta is the document describe returns.
type pluginMeta struct {
	ABI         int         `json:"abi"`
	Name        string      `json:"name"`
	Version     string      `json:"version"`
	Description string      `json:"description"`
	Stages      []stageMeta `json:"stages"`
}

// request is what validate and create receive.
type request struct {
	Stage  string `json:"stage"`
	Config Config `json:"config"`
}

type handle struct {
	stage *Stage
	proc  Processor
}

// dispatcher holds the state of one guest instance.
type dispatcher struct {
	handles map[int32]*handle
	next    int32
	lastErr string
	out     bytes.Buffer
}

var disp = &dispatcher{handles: map[int32]*handle{}}

func (d *dispatcher) fail(err error) {
	d.lastErr = err.Error()
}

// recoverTo turns a panic in plugin code into the call's error.
func (d *dispatcher) recoverTo(what string, failed *bool) {
	if r := recover(); r != nil {
		d.lastErr = fmt.Sprintf("%s panicked: %v\n%s", what, r, debug.Stack())
		*failed = true
	}
}

func (d *dispatcher) describe() (out []byte, ok bool) {
	if registered == nil {
		d.fail(errNoPlugin)
		return nil, false
	}
	p := registered
	m := pluginMeta{ABI: ABIVersion, Name: p.Name, Version: p.Version, Description: p.Description}
	for _, s := range p.Stages {
		sm := stageMeta{Name: s.Name, Kind: s.Kind, Summary: s.Summary, Description: s.Description,
			Tags: s.Tags, Stateful: s.Stateful, Params: s.Params, Examples: s.Examples}
		if sm.Params == nil {
			sm.Params = []Param{}
		}
		if sm.Examples == nil {
			sm.Examples = []Example{}
		}
		m.Stages = append(m.Stages, sm)
	}
	d.out.Reset()
	if err := json.NewEncoder(&d.out).Encode(m); err != nil {
		d.fail(err)
		return nil, false
	}
	return d.out.Bytes(), true
}

func (d *dispatcher) parseRequest(in []byte) (*Stage, Config, error) {
	if registered == nil {
		return nil, nil, errNoPlugin
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return nil, nil, fmt.Errorf("reading the stage request: %w", err)
	}
	if req.Config == nil {
		req.Config = Config{}
	}
	for i := range registered.Stages {
		if registered.Stages[i].Name == req.Stage {
			return &registered.Stages[i], req.Config, nil
		}
	}
	return nil, nil, fmt.Errorf("the plugin has no stage %q", req.Stage)
}

// validate checks a config without keeping anything.
func (d *dispatcher) validate(in []byte) (ok bool) {
	failed := false
	defer func() { ok = !failed }()
	s, cfg, err := d.parseRequest(in)
	if err != nil {
		d.fail(err)
		failed = true
		return
	}
	defer d.recoverTo(s.Name+": validate", &failed)
	if s.Validate != nil {
		err = s.Validate(cfg)
	} else {
		var p Processor
		p, err = s.New(cfg)
		if c, ok := p.(Closer); ok && err == nil {
			err = c.Close()
		}
	}
	if err != nil {
		d.fail(err)
		failed = true
	}
	return
}

// create builds a processor and returns its handle (0 on error).
func (d *dispatcher) create(in []byte) (h int32) {
	failed := false
	defer func() {
		if failed {
			h = 0
		}
	}()
	s, cfg, err := d.parseRequest(in)
	if err != nil {
		d.fail(err)
		return 0
	}
	defer d.recoverTo(s.Name+": New", &failed)
	p, err := s.New(cfg)
	if err != nil {
		d.fail(err)
		return 0
	}
	if p == nil {
		d.fail(fmt.Errorf("%s: New returned no processor", s.Name))
		return 0
	}
	d.next++
	d.handles[d.next] = &handle{stage: s, proc: p}
	return d.next
}

// process runs one batch (in: an IPC stream of one batch, or empty for a
// source) and returns the output as an IPC stream (empty: nothing).
func (d *dispatcher) process(h int32, in []byte) (out []byte, st status) {
	hd := d.handles[h]
	if hd == nil {
		d.fail(fmt.Errorf("no stage instance %d", h))
		return nil, statusError
	}
	var rec arrow.RecordBatch
	if len(in) > 0 {
		var err error
		if rec, err = readBatch(in); err != nil {
			d.fail(fmt.Errorf("%s: reading the input batch: %w", hd.stage.Name, err))
			return nil, statusError
		}
	}
	failed := false
	var res arrow.RecordBatch
	var err error
	func() {
		defer d.recoverTo(hd.stage.Name, &failed)
		res, err = hd.proc.Process(rec)
	}()
	return d.finish(hd, rec, res, err, failed)
}

// flush ends a processor's input.
func (d *dispatcher) flush(h int32) (out []byte, st status) {
	hd := d.handles[h]
	if hd == nil {
		d.fail(fmt.Errorf("no stage instance %d", h))
		return nil, statusError
	}
	f, ok := hd.proc.(Flusher)
	if !ok {
		return nil, statusOK
	}
	failed := false
	var res arrow.RecordBatch
	var err error
	func() {
		defer d.recoverTo(hd.stage.Name+": Flush", &failed)
		res, err = f.Flush()
	}()
	return d.finish(hd, nil, res, err, failed)
}

func (d *dispatcher) finish(hd *handle, in, res arrow.RecordBatch, err error, failed bool) ([]byte, status) {
	defer func() {
		if in != nil {
			in.Release()
		}
		if res != nil && res != in {
			res.Release()
		}
	}()
	if errors.Is(err, EndOfStream) && hd.stage.Kind == KindSource {
		if res == nil {
			return nil, statusEnd
		}
		err = nil // emit the last batch; the next call ends the stream
	}
	switch {
	case failed:
		return nil, statusError
	case err != nil:
		d.fail(err)
		return nil, statusError
	case res == nil:
		return nil, statusOK
	}
	if res == in {
		res.Retain() // released twice below: once as in, once as res
		defer res.Release()
	}
	d.out.Reset()
	if err := writeBatch(&d.out, res); err != nil {
		d.fail(fmt.Errorf("%s: writing the output batch: %w", hd.stage.Name, err))
		return nil, statusError
	}
	return d.out.Bytes(), statusOK
}

// destroy closes and forgets a processor.
func (d *dispatcher) destroy(h int32) (ok bool) {
	hd := d.handles[h]
	if hd == nil {
		return true
	}
	delete(d.handles, h)
	c, isCloser := hd.proc.(Closer)
	if !isCloser {
		return true
	}
	failed := false
	func() {
		defer d.recoverTo(hd.stage.Name+": Close", &failed)
		if err := c.Close(); err != nil {
			d.fail(err)
			failed = true
		}
	}()
	return !failed
}

func readBatch(in []byte) (arrow.RecordBatch, error) {
	r, err := ipc.NewReader(bytes.NewReader(in), ipc.WithAllocator(Allocator))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("the stream holds no batch")
	}
	rec := r.RecordBatch()
	rec.Retain()
	return rec, nil
}

func writeBatch(buf *bytes.Buffer, rec arrow.RecordBatch) error {
	w := ipc.NewWriter(buf, ipc.WithSchema(rec.Schema()), ipc.WithAllocator(Allocator))
	if err := w.Write(rec); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
