// Package operators holds Conveyor's relational transforms: filter.apply,
// map.apply and select.apply (more follow: cast, groupby, sort, join, ...).
//
// Every operator here is a [flow.Transformer]: it borrows its input batch and
// returns a new batch owned by the runtime, or Retains and returns the input
// when it passes through unchanged, or returns nil when nothing remains.
// Operators bind their configuration to a schema the first time they see it
// (resolving column names, converting constants to the column's type) and
// reuse that binding while the schema stays the same; a column that does not
// exist, or a constant that cannot be compared with it, is an error from
// Transform naming the column.
//
// The work is vectorised: each operator runs one typed loop over whole
// columns (no per-row interface calls), and reuses input column arrays
// wherever the output shares them (select is zero-copy; map appends one new
// array to the input's columns).
//
// Each operator has an "original" form, compatible with the first Conveyor's
// pipeline files (filter's column/operator/value, map's expression and
// output_column), and an expression-language form (filter's expr, map's
// columns) compiled by the operators/expr package into vectorized programs.
//
// The package registers its stages with [Register]; nothing registers itself
// from init.
package operators
