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
// flow never imports stages: the commands a topology may use are given to
// it as a Commands table by cmd/obz.
package flow
