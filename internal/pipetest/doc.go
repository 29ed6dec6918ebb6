// Package pipetest runs pipeline unit tests: `conveyor test`.
//
// A test file NAME_test.toml sits beside the pipeline NAME.toml and holds
// cases. Each case gives rows to some stages (usually sources), runs the
// pipeline in memory and compares the rows that reach named stages or sinks
// with the expected ones:
//
//	[[case]]
//	name = "keeps orders of 100 or more"
//	[case.input.load]
//	rows = [{ order_id = 1, amount = 150.0 }, { order_id = 2, amount = 20.0 }]
//	[case.expect.save]
//	rows = [{ order_id = 1, amount = 150.0 }]
//
// The pipeline graph is built from the real file (flow.LoadFile and
// flow.Validate against the catalog's registry); then, in a copy of the
// file validated against a copy of the registry that also holds two
// test-only stages, every source — and every stage a case gives rows to —
// becomes "test.rows" (an in-memory source emitting the case's rows, or
// nothing), every sink becomes "test.collect" (an in-memory collector), and
// a collector is added after each other stage or port a case expects rows
// at. No real source is read and no real sink is written: a stream
// pipeline whose sources end ends like a bounded job, and its windows emit
// at the end of input. The run uses a mock clock frozen at the case's
// `now`, so processing-time values are reproducible.
//
// File layout: file.go (the test file format and its checks, with lines),
// data.go (rows from TOML, NDJSON, CSV and JSON files; schemas), stages.go
// (test.rows and test.collect), run.go (building and running a case),
// compare.go (row comparison and the diff), report.go (discovery and the
// PASS/FAIL report).
package pipetest
