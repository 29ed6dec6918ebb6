// Package arrowipc holds the Arrow IPC connectors: arrow.read (IPC file
// format or stream format, told apart by the "ARROW1" magic) and
// arrow.write (IPC file format, atomic).
//
// Register adds the stages to a flow.Registry; nothing registers itself.
package arrowipc
