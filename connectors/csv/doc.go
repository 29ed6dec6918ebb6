// Package csvconn is the CSV connector: the csv.read source, the csv.write
// sink, and the reusable pieces other connectors build on ([ReadStream] to
// parse CSV from any reader into batches, [Encoder] to write batches as
// CSV).
//
// # Reading
//
// csv.read parses in parallel: one goroutine reads large chunks and cuts
// them at record boundaries (quote-aware), GOMAXPROCS workers parse chunks
// straight into typed column buffers, and the stage's own goroutine emits
// the resulting batches in file order and reports rejected rows. Memory is
// bounded by the number of chunks in flight (a few per worker), whatever the
// size of the input. Types are inferred from a sample (see
// [batch.Inferrer]) or given by a schema; timestamps are microseconds, UTC.
//
// # Writing
//
// csv.write writes through [fileio.Create]: a temporary file beside the
// target, renamed onto it when the stage closes, removed when the run fails.
package csvconn
