// Package natsedge carries a stage's edge over NATS JetStream: one more
// implementation of the runner's edge seam (runner.Inbound and
// runner.Outbound), for edges that cross machines.
//
// An edge is a subject of a JetStream stream. Out publishes the frames of
// a batch in messages of up to MaxMessage bytes of whole frames, each with
// a Nats-Msg-Id made of its first and last frames' writer:seq (writer:eof
// for an EOF, writer:seq+n for the n-th control frame after data frame
// seq), so that a publisher that crashed and publishes the same batches
// again is deduplicated by the server within the stream's duplicate
// window. Publishing is asynchronous within a bounded window; Ack waits
// for every PubAck, so a frame counts as delivered once the stream has
// stored it. Each message expects the one before it to be the stream's
// last (Nats-Expected-Last-Msg-Id), so that nothing is stored after a
// message lost on the way (a server restart with messages in flight); a
// message not stored is published again with every one after it, in
// order (resend.go). Out also says that its publisher is alive, on a
// heartbeat subject outside the stream (heartbeat.go).
//
// In reads the subject with a durable pull consumer and hands the frames
// over in stream order. It acknowledges nothing by itself: its owner calls
// Ack once the frames read so far are safely downstream (a message is
// acknowledged once all its frames are) (obz nats sub: once
// written to its stdout; see docs/nats.md). A consumer that restarts with
// the same durable name continues after the last frame acknowledged; a
// frame read but not acknowledged before a crash is delivered again, and
// dropped as a duplicate by writer:seq by the reading stage's edge check.
// A reader with an idle timeout fails (IdleError) when the publishing side
// gives no sign, neither a message nor a heartbeat, for that long.
//
// The frames cross unchanged: the far side sees the writer's own seqs and
// EOF, so the edge contract (docs/wire.md) holds across machines as on a
// pipe.
package natsedge
