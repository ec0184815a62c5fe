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
// # Edges
//
// The runner reads each input edge through an Inbound and writes each
// output edge through an Outbound, the seam where transports plug in:
//
//	Inbound   Read(*InBatch) error    frames in edge order, each with its
//	                                  writer and seq; io.EOF or an error at the end
//	Outbound  Send([]byte) error      a batch of whole lines, in order
//	          Ack() (int64, error)    wait until what was sent is safely downstream
//
// Pipes, files and stdin/stdout are one implementation (Input.R and
// PipeOutput: a batch is acknowledged once written to the pipe); MemEdge,
// an in-memory queue of frames, is another, used by tests. A broker
// transport, or one replica's share of an edge, is a third to come. Above
// the seam the runner checks every edge's contract the same way for all of
// them (docs/wire.md, "The edge contract"): gap-free seq per writer, the
// EOF's count, an EOF before the end. A frame delivered again, with a
// writer and seq already seen (an at-least-once transport does that after
// a reconnect), and an EOF equal to one seen, are dropped as duplicates and
// counted (Counters.Duplicates, --stats, the status channel); a gap or a
// reordering still breaks the edge.
//
// # A processor's run
//
// processorRun (processor.go) is one run of a Processor as a small state
// type: preparing, reading, draining after a stop signal, ended,
// finishing, closed. Each transition is one method; outcome is the one
// place that decides whether the run failed (the stage's error, downstream
// gone, or a broken input); close is the one shutdown path that writes the
// EOF.
//
// The stages themselves live in package stages; runner imports none of them.
package runner
