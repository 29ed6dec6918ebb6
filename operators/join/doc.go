// Package join provides the stages that combine several inputs:
// join.apply (a hash join whose build side is the right input: inner,
// left, right, full, semi and anti) and union.apply (concatenation with
// schemas unified by column name).
//
// Both read their inputs through the runtime's merged receive, so that a
// stage feeding several of their inputs (fan-out) never blocks. Register
// adds their specs to a registry.
package join
