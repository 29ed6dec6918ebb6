// Package parquet holds the Parquet file connectors: the parquet.read
// source (globs, column projection, streamed batch by batch with bounded
// memory) and the parquet.write sink (atomic; zstd, snappy or no
// compression; row groups of a set size; Hive-style partitioning).
//
// Register adds the stages to a flow.Registry; nothing registers itself.
package parquet
