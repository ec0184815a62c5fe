// Package stages holds obz's stages, one per file, the registry that lists
// them, and the runner they share.
//
// A stage is library code: its constructor sees parsed Options, its Event
// and Finish methods see frames and an Emitter, never the CLI or os. Run
// does the rest for every stage alike: reading and merging the inputs,
// checking each edge's contract (gap-free seq, EOF count, EOF present),
// forwarding error events, batching and flushing output, draining on
// signals, and the counters behind --stats and the status channel.
package stages
