// Package expr is Conveyor's vectorized expression language (used by
// filter.apply's expr, map.apply's columns and validate.schema's rules).
//
// The full language reference is in docs/expressions.md.
package expr

//go:generate go run gen_kernels.go
