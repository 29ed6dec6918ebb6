// Package guest is the SDK for writing Conveyor WASM plugins in Go.
//
// A plugin is a Go main package built for WASI as a reactor module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o myplugin.wasm .
//
// It declares its stages from an init function with [Register] (main is
// never called in a reactor module; it must exist but stays empty). The
// host (package github.com/conveyor-etl/conveyor/wasm) instantiates the
// module, calls _initialize (which runs the init functions), reads the
// plugin's metadata, and then calls into the stages one whole Arrow record
// batch at a time: batches cross the boundary as Arrow IPC streams, never
// row by row.
//
//	func init() {
//		guest.Register(guest.Plugin{
//			Name:    "geo",
//			Version: "0.1.0",
//			Stages: []guest.Stage{{
//				Name:    "geo.example",
//				Kind:    guest.KindTransform,
//				Summary: "Pass rows through.",
//				New:     guest.Func(func(in arrow.RecordBatch) (arrow.RecordBatch, error) { return in, nil }),
//			}},
//		})
//	}
//
//	func main() {}
//
// # Ownership
//
// A [Processor] borrows its input: the SDK releases it after Process
// returns. The batch Process returns is owned by the SDK, which releases it
// once it has been written out; returning the input itself is allowed (the
// SDK notices and releases it once). Build new arrays with [Allocator].
//
// # Concurrency
//
// A Go guest is single-threaded and the host never calls one instance
// concurrently; the host runs several instances when it needs parallelism.
// A Processor must not start goroutines that outlive the call.
//
// # Sandbox
//
// The guest sees only what the pipeline grants it: directories mounted at
// their host paths (read-only or read-write), the environment variables
// on the plugin's allowlist, no network. Its memory is capped, and each
// call may be given a timeout, after which the host discards the instance.
package guest
