// Package scaffold writes a new WASM plugin project: a Go guest with one
// working transform, a copy of the guest SDK and a Makefile, ready for
// `make` to build NAME.wasm. It backs `conveyor plugin new NAME --lang wasm`.
package scaffold
