// Package plugins loads native Conveyor plugins: shared libraries built
// against include/conveyor_plugin.h (in C, or in Go with
// -buildmode=c-shared) that declare stages exchanging Arrow record batches
// across the Arrow C Data Interface.
//
// Open loads a library and reads its declaration; Plugin.Specs turns its
// stages into flow.Specs that register beside the built-in stages and run
// under the same runtime, error strategies and metrics. A plugin runs in
// the Conveyor process (isolation "none": batches cross without a copy) or
// in a child process, `conveyor plugin-host` (isolation "process": batches
// cross as Arrow IPC over pipes, and a crash of the library fails only the
// stage; under on_error = "retry" the child is restarted and the batch
// retried). HostMain is the child's side.
//
// Go's own plugin package is not used: it requires the plugin and the host
// to be built from exactly the same dependency versions.
package plugins
