// Package flow runs a topology of obz stages as supervised processes.
//
// The supervisor wires and watches; it never touches data. Every edge is an
// OS pipe straight from one stage process to the next; each stage gets its
// edges as file descriptors (--in-fd, --out-fd), a status channel
// (--status-fd) and a stderr pipe:
//
//	           --out-fd 3           --in-fd 3 --out-fd 4       --in-fd 3
//	[obz read] ============> [obz filter] ============> [obz write]
//	     |  \                     |  \                       |  \
//	status  stderr           status  stderr             status  stderr
//	     \    \                   |    |                     /    /
//	      +----+--------> obz flow (supervisor) <-----------+----+
//	                counts, state, logs, exit statuses
//	                signals: SIGTERM to sources on drain, SIGKILL after the timeout
//
// Frames, EOFs and their counts travel only on the data pipes; the edge
// contracts are checked by the stage runner in each consumer. The
// supervisor starts consumers before producers, reports the first stage to
// fail (exit status, last stderr lines), drains the rest by stopping the
// sources, and records the run in a run directory (manifest.json, logs/).
//
// Each stage lives through one lifecycle (lifecycle.go), its State in the
// manifest and the metrics:
//
//	pending --start--> running --exit--> done | stopped | failed | killed
//	                                     (classifyExit)      |
//	                   running <--restart-- retrying <-------+ restart = "on-failure"
//
// classifyExit is the one place that reads an exit: 0 is done; 4 is done
// with dead letters (events went to the error lane: errors are data, not a
// failure, and obz flow exits 4 after every branch has run to its end); a
// SIGTERM or 130/143 after the drain's SIGTERM is stopped; another signal
// is killed (a failure unless it was the drain timeout's SIGKILL);
// anything else failed. The first failure drains the flow.
//
// The flags obz flow puts on a stage's command line (--name, --in-fd,
// --journal, ...) are declared once (check.go): the supervisor writes them
// from there and validation refuses a topology that sets one. Before
// anything starts, every stage's command line is checked as obz flow will
// run it (Options.Check, Topology.Check): cmd/obz parses it with the CLI's
// own flags and builds the stage, so that a bad flag or expression is
// reported with the topology's file and line, not by a failed run.
//
// A flow placed on hosts runs one host's part per obz flow --host (Part,
// hosts.go): an edge to another host ends at a bridge stage, obz nats pub
// on the producer's side and obz nats sub on the consumer's, processes of
// the part like any stage, so that the data still never passes through the
// supervisor and flow needs no NATS client:
//
//	host a:  [gen] ==> [nats.gen.sum: obz nats pub obz.F.RUN.gen.sum] --+
//	                                                                     | JetStream
//	host b:  [nats.gen.sum: obz nats sub ... --durable obz_sum] ==> [sum] <-+
//
// flow never imports stages: the commands a topology may use are given to
// it as a Commands table, and the check as a StageCheck, by cmd/obz.
package flow
