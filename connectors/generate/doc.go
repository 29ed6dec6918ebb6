// Package generate provides the generate source: rows computed by
// vectorized expressions over a row number, an event time and a seeded
// random number (mode "rows"), or the Person / Auction / Bid event streams
// of the Nexmark benchmark (mode "nexmark"). It is bounded by a count or
// endless (then only `conveyor stream` runs it), as fast as the pipeline
// takes its batches or paced at a rate on the pipeline's clock.
//
// Every value is a pure function of the parameters (seed, start_time,
// event_interval) and of the row's (event's) number, so the output does
// not depend on batch boundaries, rate or scheduling. Columns are written
// straight into Arrow buffers, a batch at a time; nothing is allocated per
// row. The user documentation is docs/generate.md.
package generate
