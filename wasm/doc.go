// Package wasm runs Conveyor plugins compiled to WebAssembly, sandboxed by
// wazero (a pure-Go runtime: no cgo, no native code loaded).
//
// [Open] compiles a module (through an on-disk compilation cache),
// checks that it speaks this Conveyor's plugin ABI, reads its metadata, and
// returns a [Plugin] whose [Plugin.Specs] are ordinary stage specs: they
// validate their TOML like built-in stages, show in `conveyor list` and
// `info`, and run under the same runtime, error strategies and metrics.
//
// Batches cross into the guest whole, as Arrow IPC streams: one call per
// batch, never per row. Each running stage takes an instance of the module
// from its stage's pool (Go guests are single-threaded, so an instance
// serves one caller at a time) and gives it back when it is done; an
// instance that trapped, ran out of memory or overran its timeout is
// discarded, since its runtime may be corrupt, and the next call gets a
// fresh one. What the guest may touch is set by [Capabilities] and nothing
// more: directory mounts, a memory cap, a per-call timeout and an
// environment allowlist; it has no network.
//
// The guest side is the SDK in package wasm/guest; wasm/scaffold writes a
// new plugin project.
package wasm
