// Package batch owns the unit of data that moves between stages: Arrow
// record batches.
//
// It builds batches from decoded JSON values ([Builder], [FromRows]) and
// turns them back into rows ([Row], [AppendRowJSON]); infers a schema from
// JSON records ([JSONInferrer]) and from text (text.go); unifies the schemas
// of several inputs by column name ([Unify]) and projects batches onto the
// unified schema ([Project]); accumulates small batches into larger ones
// ([Coalescer]); and renders single values as display text ([FormatValue]).
//
// # Ownership
//
// Every function that returns an arrow.RecordBatch or arrow.Array hands a
// new reference to the caller, who must Release it exactly once. Functions
// that take a batch borrow it unless their documentation says they take
// ownership. Every function that allocates takes the allocator explicitly.
//
// # Types
//
// The column types Conveyor infers are int64, float64, bool, string and
// timestamp (microseconds, time zone "UTC"). JSON inference has no
// separate nested type: a value that is a JSON object or array is kept in a
// string column holding its JSON text, so that any record can be loaded,
// filtered and written back without loss; json.extract reads fields out of
// such a column.
package batch
