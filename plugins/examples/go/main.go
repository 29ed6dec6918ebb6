// Command goexample is an example Conveyor plugin written in Go, built as a
// C shared library and loaded by Conveyor through the C ABI of
// plugins/include/conveyor_plugin.h:
//
//	go build -buildmode=c-shared -o goexample.so ./plugins/examples/go
//
// It declares goexample.upper (a transform upper-casing string columns)
// and goexample.count (a stateful transform emitting its row count at the
// end). Three rules every Go plugin follows:
//
//   - Every exported function recovers panics and returns CONVEYOR_ERROR
//     with the panic as the error: a panic that escaped would end the
//     whole process.
//   - Batches handed to Conveyor are allocated in C memory (arrow-go's
//     mallocator): Conveyor keeps them after the call returns, which Go
//     memory may not be (cgo's pointer rules).
//   - Input batches are imported with arrow/cdata (zero copy); columns
//     passed through unchanged stay Conveyor's memory.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include <stdint.h>
#include <stdlib.h>
#include "conveyor_plugin.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/cdata"
	"github.com/apache/arrow-go/v18/arrow/memory/mallocator"
)

func main() {}

// mem allocates every buffer handed to Conveyor.
var mem = mallocator.NewMallocator()

// stage is one stage of the plugin.
type stage struct {
	spec string
	new  func(config []byte) (processor, error)
}

// processor is a stage instance's logic. process may return nil (no
// output); flush is called at the end of input of stateful stages.
type processor interface {
	process(in arrow.RecordBatch) (arrow.RecordBatch, error)
	flush() (arrow.RecordBatch, error)
}

var stages = []stage{
	{spec: `{"name": "goexample.upper", "kind": "transform",
 "summary": "Upper-case string columns (a Go plugin example).",
 "description": "Replaces each string column named in columns by its upper-case form; the other columns pass through without a copy. With panic = true it panics on its first batch, which the plugin recovers and reports as the batch's error.",
 "tags": ["example"],
 "params": [
  {"name": "columns", "type": "list", "required": true, "doc": "The string columns to upper-case."},
  {"name": "panic", "type": "bool", "default": false, "doc": "Panic on the first batch (for tests)."}
 ],
 "examples": [{"title": "Upper-case a name", "config": "columns = [\"name\"]",
  "input": "{\"id\":1,\"name\":\"ada\"}\n{\"id\":2,\"name\":\"Grace\"}\n",
  "output": "{\"id\":1,\"name\":\"ADA\"}\n{\"id\":2,\"name\":\"GRACE\"}\n"}]}`,
		new: newUpper},
	{spec: `{"name": "goexample.count", "kind": "transform", "stateful": true,
 "summary": "Count rows; emit the count at the end of input (a Go plugin example).",
 "description": "Emits nothing while rows arrive; when the input ends it emits one row whose int64 column rows is the number of rows seen (a stateful stage: it is flushed).",
 "tags": ["example"],
 "examples": [{"title": "Count three rows", "config": "",
  "input": "{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n", "output": "{\"rows\":3}\n"}]}`,
		new: newCount},
}

var specs = func() []*C.char {
	out := make([]*C.char, len(stages))
	for i, s := range stages {
		out[i] = C.CString(s.spec) // lives as long as the library
	}
	return out
}()

// instance is a created stage instance and its last error (C memory).
type instance struct {
	p      processor
	errMsg *C.char
}

func (in *instance) fail(err error) C.int {
	if in.errMsg != nil {
		C.free(unsafe.Pointer(in.errMsg))
	}
	in.errMsg = C.CString(err.Error())
	return C.CONVEYOR_ERROR
}

var (
	mu        sync.Mutex
	instances = map[C.uintptr_t]*instance{}
	lastID    C.uintptr_t
)

func lookup(id C.uintptr_t) *instance {
	mu.Lock()
	defer mu.Unlock()
	return instances[id]
}

// recovered turns a panic into the instance's error.
func recovered(in *instance, rc *C.int) {
	if r := recover(); r != nil {
		*rc = in.fail(fmt.Errorf("panic: %v", r))
	}
}

//export goSpec
func goSpec(i C.int) *C.char { return specs[i] }

//export goCreate
func goCreate(idx C.int, config, env *C.char, id *C.uintptr_t) (rc C.int) {
	in := &instance{}
	mu.Lock()
	lastID++
	*id = lastID
	instances[lastID] = in
	mu.Unlock()
	defer recovered(in, &rc)
	p, err := stages[idx].new([]byte(C.GoString(config)))
	if err != nil {
		return in.fail(err)
	}
	in.p = p
	return C.CONVEYOR_OK
}

//export goProcess
func goProcess(id C.uintptr_t, inSchema *C.struct_ArrowSchema, in *C.struct_ArrowArray,
	outSchema *C.struct_ArrowSchema, out *C.struct_ArrowArray) (rc C.int) {
	inst := lookup(id)
	defer recovered(inst, &rc)
	rec, err := cdata.ImportCRecordBatch((*cdata.CArrowArray)(unsafe.Pointer(in)), (*cdata.CArrowSchema)(unsafe.Pointer(inSchema)))
	if err != nil {
		return inst.fail(err)
	}
	defer rec.Release()
	res, err := inst.p.process(rec)
	if err != nil {
		return inst.fail(err)
	}
	return export(res, outSchema, out)
}

//export goFlush
func goFlush(id C.uintptr_t, outSchema *C.struct_ArrowSchema, out *C.struct_ArrowArray) (rc C.int) {
	inst := lookup(id)
	defer recovered(inst, &rc)
	res, err := inst.p.flush()
	if err != nil {
		return inst.fail(err)
	}
	return export(res, outSchema, out)
}

// export hands res (may be nil) to Conveyor and drops this side's
// reference.
func export(res arrow.RecordBatch, outSchema *C.struct_ArrowSchema, out *C.struct_ArrowArray) C.int {
	if res == nil || out == nil {
		if res != nil {
			res.Release()
		}
		return C.CONVEYOR_OK
	}
	cdata.ExportArrowRecordBatch(res, (*cdata.CArrowArray)(unsafe.Pointer(out)), (*cdata.CArrowSchema)(unsafe.Pointer(outSchema)))
	res.Release()
	return C.CONVEYOR_OK
}

//export goDestroy
func goDestroy(id C.uintptr_t) {
	mu.Lock()
	in := instances[id]
	delete(instances, id)
	mu.Unlock()
	if in != nil && in.errMsg != nil {
		C.free(unsafe.Pointer(in.errMsg))
	}
}

//export goLastError
func goLastError(id C.uintptr_t) *C.char {
	if in := lookup(id); in != nil {
		return in.errMsg
	}
	return nil
}

// goexample.upper

type upper struct {
	columns map[string]bool
	panics  bool
}

func newUpper(config []byte) (processor, error) {
	var c struct {
		Columns []string `json:"columns"`
		Panic   bool     `json:"panic"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, err
	}
	u := &upper{columns: map[string]bool{}, panics: c.Panic}
	for _, name := range c.Columns {
		u.columns[name] = true
	}
	return u, nil
}

func (u *upper) process(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	if u.panics {
		var m map[string]int
		m["boom"]++ // a real runtime panic: assignment to entry in nil map
	}
	cols := make([]arrow.Array, in.NumCols())
	for i, f := range in.Schema().Fields() {
		col := in.Column(i)
		if !u.columns[f.Name] {
			col.Retain()
			cols[i] = col
			continue
		}
		s, ok := col.(*array.String)
		if !ok {
			releaseAll(cols[:i])
			return nil, fmt.Errorf("column %s is %s, not a string", f.Name, f.Type)
		}
		b := array.NewStringBuilder(mem)
		b.Reserve(s.Len())
		for j := range s.Len() {
			if s.IsNull(j) {
				b.AppendNull()
			} else {
				b.Append(strings.ToUpper(s.Value(j)))
			}
		}
		cols[i] = b.NewArray()
		b.Release()
	}
	defer releaseAll(cols)
	return array.NewRecordBatch(in.Schema(), cols, in.NumRows()), nil
}

func (u *upper) flush() (arrow.RecordBatch, error) { return nil, errors.New("not stateful") }

func releaseAll(cols []arrow.Array) {
	for _, c := range cols {
		if c != nil {
			c.Release()
		}
	}
}

// goexample.count

type count struct{ rows int64 }

func newCount([]byte) (processor, error) { return &count{}, nil }

func (c *count) process(in arrow.RecordBatch) (arrow.RecordBatch, error) {
	c.rows += in.NumRows()
	return nil, nil
}

func (c *count) flush() (arrow.RecordBatch, error) {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.Append(c.rows)
	col := b.NewArray()
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "rows", Type: arrow.PrimitiveTypes.Int64}}, nil)
	return array.NewRecordBatch(schema, []arrow.Array{col}, 1), nil
}
