// Package window provides Conveyor's windowing stages: window.apply
// (tumbling, sliding, session and count windows over event or processing
// time, with watermarks, allowed lateness and a "late" port) and
// aggregate.stream (the original second stage that aggregates the rows
// window.apply emits per window).
//
// Both run one engine: window state is a set of slots (one per window and
// group key) folded by the typed slot accumulators of package aggregate;
// slots are recycled when a window is emitted, sessions merge slots. The
// operator receives on a helper goroutine so that processing-time windows
// and idle inputs fire on the stage's clock while no row arrives.
package window
