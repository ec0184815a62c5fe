// Package exitstatus is the table of obz's exit statuses: every command
// exits with one of them (cmd/obz maps errors to them in one switch), and
// the flow supervisor reads its stages' exit statuses with the same table.
package exitstatus

import "syscall"

// The exit statuses of obz.
const (
	OK          = 0   // success
	Failure     = 1   // a stage failed, or an input edge broke
	Usage       = 2   // bad flags, arguments or topology
	Refused     = 3   // replay, verify or resume refused
	ErrorEvents = 4   // finished, but events ended in the error lane (not a failure)
	Interrupted = 130 // SIGINT, after a graceful drain
	Terminated  = 143 // SIGTERM, after a graceful drain
)

// Signaled is the status a shell gives a process killed by sig: 128+sig.
func Signaled(sig syscall.Signal) int { return 128 + int(sig) }

// Stopped reports whether code is the status of a graceful stop by a
// signal (Interrupted or Terminated).
func Stopped(code int) bool { return code == Interrupted || code == Terminated }

// Help is the EXIT STATUS section common to every command's help.
const Help = `   0    success
   1    failure: the stage failed, or an input broke (no EOF, a wrong count, a gap)
   2    usage error: bad flags or arguments
   4    finished, but some events went to the error lane and ended here
        (reported on stderr, or written to --dead-letter)
   130  stopped by SIGINT (Ctrl-C) after a graceful drain; 143 for SIGTERM`
