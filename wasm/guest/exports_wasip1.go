//go:build wasip1

package guest

import "unsafe"

// The module's exports. Buffers are addressed by their offset in linear
// memory; a result that carries bytes packs them as offset<<32 | length
// (offset 0 never holds data: length 0 then means "nothing", 1 "error,
// see conveyor_last_error", 2 "end of stream").

// input is where the host writes a call's argument bytes.
var input []byte

// keep holds the bytes last returned to the host until the next call.
var keep []byte

func pack(b []byte) uint64 {
	keep = b
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))<<32 | uint64(len(b))
}

func packStatus(b []byte, st status) uint64 {
	if st != statusOK {
		keep = nil
		return uint64(st)
	}
	return pack(b)
}

func arg(n uint32) []byte {
	if int(n) > len(input) {
		return nil
	}
	return input[:n]
}

//go:wasmexport conveyor_abi_version
func exportABIVersion() uint32 { return ABIVersion }

// conveyor_buffer returns the offset of a buffer of at least size bytes
// that the host fills before its next call.
//
//go:wasmexport conveyor_buffer
func exportBuffer(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	if uint32(cap(input)) < size {
		input = make([]byte, size+size/4)
	}
	input = input[:cap(input)]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(input))))
}

//go:wasmexport conveyor_describe
func exportDescribe() uint64 {
	out, ok := disp.describe()
	if !ok {
		return uint64(statusError)
	}
	return pack(out)
}

//go:wasmexport conveyor_validate
func exportValidate(n uint32) uint32 {
	if disp.validate(arg(n)) {
		return 0
	}
	return 1
}

//go:wasmexport conveyor_create
func exportCreate(n uint32) int32 { return disp.create(arg(n)) }

//go:wasmexport conveyor_process
func exportProcess(h int32, n uint32) uint64 {
	out, st := disp.process(h, arg(n))
	return packStatus(out, st)
}

//go:wasmexport conveyor_flush
func exportFlush(h int32) uint64 {
	out, st := disp.flush(h)
	return packStatus(out, st)
}

//go:wasmexport conveyor_destroy
func exportDestroy(h int32) uint32 {
	if disp.destroy(h) {
		return 0
	}
	return 1
}

//go:wasmexport conveyor_last_error
func exportLastError() uint64 { return pack([]byte(disp.lastErr)) }
