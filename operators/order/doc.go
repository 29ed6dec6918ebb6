// Package order provides the stages that order and cut a stream:
// sort.apply (a stable, multi-key, external sort that spills sorted runs
// to Arrow IPC files above a memory budget and merges them) and
// limit.apply (offset and limit, zero-copy).
//
// Register adds their specs to a registry; subpackage gather builds
// batches from rows picked out of several batches, for sort's output and
// for join.apply.
package order
