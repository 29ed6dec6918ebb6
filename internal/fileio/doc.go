// Package fileio holds the file plumbing shared by the file connectors:
// glob expansion, transparent gzip/zstd by extension, and atomic writers
// (write to a temporary name beside the target, rename on success).
package fileio
