// Package runner is the stage runtime: what every obz stage shares.
//
// A stage is library code: its constructor sees parsed Options, its Event
// and Finish methods see frames and an Emitter, never the CLI or os. Run
// does the rest for every stage alike: reading and merging the inputs,
// checking each edge's contract (gap-free seq, EOF count, EOF present),
// forwarding error events, batching and flushing output, journaling,
// draining on signals, resuming a source, and the counters behind --stats,
// the progress line and the status channel.
//
// The stages themselves live in package stages; runner imports none of them.
package runner
