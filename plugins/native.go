package plugins

/*
#cgo CFLAGS: -I${SRCDIR}/include
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "conveyor_plugin.h"

// The batches of one call: zero-initialised before every call.
typedef struct {
	struct ArrowSchema in_schema;
	struct ArrowArray in;
	struct ArrowSchema out_schema;
	struct ArrowArray out;
} cv_io;

static const ConveyorPlugin *cv_declare(void *fn) {
	return ((const ConveyorPlugin *(*)(void))fn)();
}
static const ConveyorStage *cv_stage(const ConveyorPlugin *p, uint32_t i) { return &p->stages[i]; }
static int cv_has(const ConveyorStage *s, int which) {
	switch (which) {
	case 0: return s->create != NULL && s->destroy != NULL;
	case 1: return s->process != NULL;
	case 2: return s->next != NULL;
	case 3: return s->flush != NULL;
	}
	return 0;
}
static int cv_create(const ConveyorStage *s, const char *cfg, const char *env, uintptr_t *h) {
	void *handle = NULL;
	int rc = s->create(cfg, env, &handle);
	*h = (uintptr_t)handle;
	return rc;
}
static int cv_process(const ConveyorStage *s, uintptr_t h, cv_io *io, int sink) {
	if (sink) return s->process((void *)h, &io->in_schema, &io->in, NULL, NULL);
	return s->process((void *)h, &io->in_schema, &io->in, &io->out_schema, &io->out);
}
static int cv_next(const ConveyorStage *s, uintptr_t h, cv_io *io) {
	return s->next((void *)h, &io->out_schema, &io->out);
}
static int cv_flush(const ConveyorStage *s, uintptr_t h, cv_io *io, int sink) {
	if (sink) return s->flush((void *)h, NULL, NULL);
	return s->flush((void *)h, &io->out_schema, &io->out);
}
static void cv_destroy(const ConveyorStage *s, uintptr_t h) { s->destroy((void *)h); }
static const char *cv_last_error(const ConveyorStage *s, uintptr_t h) {
	if (s->last_error == NULL || h == 0) return NULL;
	return s->last_error((void *)h);
}
// cv_release releases what a call left behind (in, or an unconsumed out).
static void cv_release(cv_io *io) {
	if (io->in.release) io->in.release(&io->in);
	if (io->in_schema.release) io->in_schema.release(&io->in_schema);
	if (io->out.release) io->out.release(&io->out);
	if (io->out_schema.release) io->out_schema.release(&io->out_schema);
}
static void cv_release_in(cv_io *io) {
	if (io->in.release) io->in.release(&io->in);
	if (io->in_schema.release) io->in_schema.release(&io->in_schema);
}
static void cv_zero(cv_io *io) { memset(io, 0, sizeof *io); }
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/cdata"
)

// library is a loaded shared library. Libraries are never unloaded: a
// batch still in flight holds release callbacks into the library's code,
// and a library built by Go cannot be unloaded at all.
type library struct {
	path string
	decl *C.ConveyorPlugin
	// stages[i] is the function table of declaration.Specs[i].
	stages []*C.ConveyorStage
	d      declaration
}

var (
	libMu sync.Mutex
	libs  = map[string]*library{}
)

// loadLibrary opens path in this process (once per resolved path) and
// reads its declaration. Errors name the file and wrap ErrLoad,
// ErrMissingSymbol or ErrMetadata.
func loadLibrary(path string) (*library, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w: %v", path, ErrLoad, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	libMu.Lock()
	defer libMu.Unlock()
	if l, ok := libs[abs]; ok {
		return l, nil
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("plugin %s: %w: %v", path, ErrLoad, err)
	}
	if err := checkPlatform(abs); err != nil {
		return nil, fmt.Errorf("plugin %s: %w: %v", path, ErrLoad, err)
	}
	cpath := C.CString(abs)
	defer C.free(unsafe.Pointer(cpath))
	h := C.dlopen(cpath, C.RTLD_NOW|C.RTLD_LOCAL)
	if h == nil {
		return nil, fmt.Errorf("plugin %s: %w: %s (is it a shared library built for this platform?)", path, ErrLoad, C.GoString(C.dlerror()))
	}
	csym := C.CString(DeclareSymbol)
	defer C.free(unsafe.Pointer(csym))
	C.dlerror()
	fn := C.dlsym(h, csym)
	if fn == nil {
		return nil, fmt.Errorf("plugin %s: %w: it does not export the symbol %s (build it against plugins/include/conveyor_plugin.h)", path, ErrMissingSymbol, DeclareSymbol)
	}
	decl := C.cv_declare(fn)
	if decl == nil {
		return nil, fmt.Errorf("plugin %s: %w: %s returned NULL", path, ErrMetadata, DeclareSymbol)
	}
	l := &library{path: path, decl: decl}
	l.d = declaration{APIVersion: int(decl.api_version)}
	if l.d.APIVersion != APIVersion {
		// Nothing after api_version may be read: its layout may differ.
		return l, nil
	}
	l.d.Name = C.GoString(decl.name)
	l.d.Version = C.GoString(decl.version)
	l.d.Description = C.GoString(decl.description)
	if decl.n_stages > 0 && decl.stages == nil {
		return nil, fmt.Errorf("plugin %s: %w: n_stages is %d but stages is NULL", path, ErrMetadata, decl.n_stages)
	}
	for i := range uint32(decl.n_stages) {
		s := C.cv_stage(decl, C.uint32_t(i))
		if s.spec_json == nil {
			return nil, fmt.Errorf("plugin %s: %w: stage %d has no spec_json", path, ErrMetadata, i)
		}
		l.stages = append(l.stages, s)
		l.d.Specs = append(l.d.Specs, C.GoString(s.spec_json))
	}
	libs[abs] = l
	return l, nil
}

// checkFunctions verifies that a stage has the functions its kind needs.
func (l *library) checkFunctions(i int, kind string) error {
	s := l.stages[i]
	need := map[string]C.int{"create and destroy": 0}
	switch kind {
	case "source":
		need["next"] = 2
	default:
		need["process"] = 1
	}
	for name, which := range need {
		if C.cv_has(s, which) == 0 {
			return fmt.Errorf("plugin %s: %w: stage %d (%s) has no %s function", l.path, ErrMetadata, i, kind, name)
		}
	}
	return nil
}

// nativeInstance is one stage instance in this process.
type nativeInstance struct {
	lib      *library
	stage    *C.ConveyorStage
	name     string
	sink     bool
	canFlush bool
	handle   C.uintptr_t
	io       *C.cv_io
	done     bool
}

// newNative creates an instance of stage i with the given config and env
// JSON.
func (l *library) newNative(i int, name string, sink bool, config, env string) (*nativeInstance, error) {
	s := l.stages[i]
	ccfg, cenv := C.CString(config), C.CString(env)
	defer C.free(unsafe.Pointer(ccfg))
	defer C.free(unsafe.Pointer(cenv))
	var h C.uintptr_t
	rc := C.cv_create(s, ccfg, cenv, &h)
	if rc != C.CONVEYOR_OK {
		msg := "create failed (the plugin gave no reason)"
		if h != 0 {
			if m := C.cv_last_error(s, h); m != nil {
				msg = C.GoString(m)
			}
			C.cv_destroy(s, h)
		}
		return nil, fmt.Errorf("%s: %s", name, msg)
	}
	if h == 0 {
		return nil, fmt.Errorf("%s: create returned no handle", name)
	}
	io := (*C.cv_io)(C.calloc(1, C.size_t(unsafe.Sizeof(C.cv_io{}))))
	return &nativeInstance{lib: l, stage: s, name: name, sink: sink, canFlush: C.cv_has(s, 3) != 0, handle: h, io: io}, nil
}

func (n *nativeInstance) err(what string) error {
	msg := "failed (the plugin gave no reason)"
	if m := C.cv_last_error(n.stage, n.handle); m != nil {
		msg = C.GoString(m)
	}
	return fmt.Errorf("%s: %s: %s", n.name, what, msg)
}

func (n *nativeInstance) outSchema() *cdata.CArrowSchema {
	return (*cdata.CArrowSchema)(unsafe.Pointer(&n.io.out_schema))
}
func (n *nativeInstance) outArray() *cdata.CArrowArray {
	return (*cdata.CArrowArray)(unsafe.Pointer(&n.io.out))
}

// takeOutput imports the batch a call left in io.out (nil if none).
func (n *nativeInstance) takeOutput() (arrow.RecordBatch, error) {
	if n.io.out.release == nil {
		C.cv_release(n.io)
		return nil, nil
	}
	if n.io.out_schema.release == nil {
		C.cv_release(n.io)
		return nil, fmt.Errorf("%s: the plugin emitted a batch without a schema", n.name)
	}
	rec, err := cdata.ImportCRecordBatch(n.outArray(), n.outSchema())
	C.cv_release(n.io) // what the import did not take (it takes both on success)
	if err != nil {
		return nil, fmt.Errorf("%s: the plugin emitted an invalid batch: %w", n.name, err)
	}
	if rec.NumRows() == 0 {
		rec.Release()
		return nil, nil
	}
	return rec, nil
}

// process lends in to the plugin (zero copy) and returns its output.
func (n *nativeInstance) process(_ context.Context, in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if n.done {
		return nil, ErrClosed
	}
	C.cv_zero(n.io)
	// The export stores pointers to in's buffers in C memory: Go buffers
	// are pinned while it happens and during the call.
	var pin runtime.Pinner
	defer pin.Unpin()
	pinData(&pin, in)
	cdata.ExportArrowRecordBatch(in,
		(*cdata.CArrowArray)(unsafe.Pointer(&n.io.in)), (*cdata.CArrowSchema)(unsafe.Pointer(&n.io.in_schema)))
	sink := C.int(0)
	if n.sink {
		sink = 1
	}
	rc := C.cv_process(n.stage, n.handle, n.io, sink)
	C.cv_release_in(n.io)
	if rc != C.CONVEYOR_OK {
		C.cv_release(n.io)
		return nil, n.err("process")
	}
	return n.takeOutput()
}

// next asks a source for its next batch; end reports the end of data.
func (n *nativeInstance) next(context.Context) (b arrow.RecordBatch, end bool, err error) {
	if n.done {
		return nil, true, ErrClosed
	}
	C.cv_zero(n.io)
	switch rc := C.cv_next(n.stage, n.handle, n.io); rc {
	case C.CONVEYOR_OK:
		b, err = n.takeOutput()
		return b, false, err
	case C.CONVEYOR_END:
		C.cv_release(n.io)
		return nil, true, nil
	default:
		C.cv_release(n.io)
		return nil, false, n.err("next")
	}
}

// flush ends the input: a stateful transform may emit a last batch, a
// sink commits.
func (n *nativeInstance) flush(context.Context) (arrow.RecordBatch, error) {
	if n.done {
		return nil, ErrClosed
	}
	if !n.canFlush {
		return nil, nil
	}
	C.cv_zero(n.io)
	sink := C.int(0)
	if n.sink {
		sink = 1
	}
	if rc := C.cv_flush(n.stage, n.handle, n.io, sink); rc != C.CONVEYOR_OK {
		C.cv_release(n.io)
		return nil, n.err("flush")
	}
	return n.takeOutput()
}

// pinData pins the Go memory of every buffer of b (C memory is left
// alone: Pin ignores non-Go pointers).
func pinData(p *runtime.Pinner, b arrow.RecordBatch) {
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, buf := range d.Buffers() {
			if buf != nil && buf.Len() > 0 {
				p.Pin(&buf.Bytes()[0])
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
		if d.DataType().ID() == arrow.DICTIONARY {
			walk(d.Dictionary())
		}
	}
	for _, col := range b.Columns() {
		walk(col.Data())
	}
}

// destroy frees the instance; it is safe to call more than once.
func (n *nativeInstance) destroy() {
	if n.done {
		return
	}
	n.done = true
	C.cv_destroy(n.stage, n.handle)
	C.free(unsafe.Pointer(n.io))
	n.io = nil
}
