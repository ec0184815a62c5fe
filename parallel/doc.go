// Package parallel runs one stage as N replica processes (obz parallel,
// replicas = N in a flow) and merges their outputs back into one stream,
// byte for byte what one process of the stage would have written. (filter,
// map, agg, top and dedupe run their replicas as goroutines of one process
// instead, see runner.Concurrent, and exec --one-to-one as N programs of
// one obz exec, see runner.Replicated, unless obz parallel --processes.)
//
// The coordinator is itself a stage under the runner: it reads and checks
// the input edge as any stage does, deals the input events to the replicas
// and writes the merged output (journal, fan-out, status and all).
//
//	input ──▶ coordinator ──deal──▶ replica 1 (obz STAGE --in-fd 0) ──▶ ┐
//	          (runner)     ──deal──▶ replica 2                      ──▶ ├─ merge ──▶ output
//	                       ──deal──▶ replica N                      ──▶ ┘
//
// Each replica reads a framed stream of its own: the events dealt to it,
// renumbered 1, 2, 3 … by the dealer (writer "obz-deal"), each batch
// followed by a marker, a watermark of the dealer whose time is the seq of
// the batch's last event. A per-event stage answers an event before it
// reads the next frame, and passes control frames on in place, so the
// marker tells the merge that every answer to the batch is out: the merge
// never waits for an answer that will not come (a filter that drops the
// event, a map with no output).
//
// The merge walks the input events in input order. For each it takes the
// answers of the replica that got it (their parent is the dealer's seq of
// the event), gives them the event's own writer and seq as parent and this
// stage's seq, and goes on to the next event as soon as that replica shows
// a later answer or a marker at or past the event. Error events and control
// frames of the input are not dealt: the coordinator keeps them in their
// place and passes them on itself when the merge gets there.
//
// Round robin deals whole batches to one replica after the other. With a
// partition field, each event goes to the replica its key hashes to (FNV-1a
// of the value's canonical JSON, so "D\u0045" and "DE" are one key), and a
// marker goes to each replica that got events of the batch. What replicas
// write at the end of their input (an aggregate's groups) is merged in the
// order one process meets their keys: the first event of each key that the
// stage took without an error answer, read back from each result.
package parallel
