// Package flow owns the graph and the runtime of a Conveyor pipeline.
//
// A pipeline file (TOML) is loaded into a [File], checked against the stage
// [Registry] into a validated [Graph], and run by a [Runner]: one goroutine per
// stage, linked by bounded channels of [Message] values carrying Arrow record
// batches. A bounded job is a finite stream: sources close their outputs when
// they end, each stage flushes when all its inputs are closed, and the run
// ends when every sink has returned.
//
// The package also owns the stage contracts ([Operator], [Transformer],
// [Sink]), the per-stage handle [Stage] through which operators receive,
// emit and reject rows, the error policy (stop, continue, retry and the
// dead-letter output), and per-stage metrics.
package flow
