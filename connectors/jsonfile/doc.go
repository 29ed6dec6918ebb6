// Package jsonfile holds the JSON file connectors: the json.read source
// (a top-level array of objects, "records", or one object per line,
// "jsonl"/NDJSON; gzip and zstd by extension; globs with schemas unified
// across files) and the json.write sink (atomic, records or jsonl).
//
// ReadStream is the same reader for one already-open stream; stdin, HTTP
// and Kafka connectors reuse it for JSON payloads.
//
// Register adds the stages to a flow.Registry; nothing registers itself.
package jsonfile
