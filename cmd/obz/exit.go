package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"syscall"

	"github.com/obz-dev/obz/runner"
)

// The exit statuses of obz, one table for every command (obz help shows it).
const (
	exitOK          = 0   // success
	exitFailure     = 1   // a stage failed, or an input edge broke
	exitUsage       = 2   // bad flags, arguments or topology
	exitRefused     = 3   // replay/verify refused (later commands)
	exitErrorEvents = 4   // finished, but events ended in the error lane
	exitInterrupted = 130 // SIGINT, after a graceful drain
	exitTerminated  = 143 // SIGTERM, after a graceful drain
)

const exitStatusHelp = `   0    success
   1    failure: the stage failed, or an input broke (no EOF, a wrong count, a gap)
   2    usage error: bad flags or arguments
   4    finished, but some events went to the error lane and ended here
        (reported on stderr, or written to --dead-letter)
   130  stopped by SIGINT (Ctrl-C) after a graceful drain; 143 for SIGTERM`

var longFlagRe = regexp.MustCompile(`flag -([a-z][a-z0-9-]+)`)

// usageError is a command-line mistake found by the CLI layer.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// exitCode maps an error (and a stop signal, if one came) to an exit status,
// printing the message once with the "obz CMD:" prefix.
func exitCode(err error, cmd string, sig os.Signal, stderr io.Writer) int {
	prefix := "obz: "
	if cmd != "" {
		prefix = "obz " + cmd + ": "
	}
	var (
		usage      *usageError
		sUsage     *runner.UsageError
		broken     *runner.BrokenInputError
		events     *runner.ErrorEventsError
		failed     *runner.EventFailedError
		flowFailed *flowFailedError
		refused    *refusedError
		code       int
		message    = true
	)
	switch {
	case err == nil:
		code, message = exitOK, false
	case errors.As(err, &usage), errors.As(err, &sUsage):
		code = exitUsage
	case errors.As(err, &refused):
		code = exitRefused
	case errors.As(err, &broken):
		for _, p := range broken.Problems {
			fmt.Fprintf(stderr, "%s%s\n", prefix, p)
		}
		code, message = exitFailure, false
	case errors.As(err, &events), errors.Is(err, errFlowErrorEvents):
		code = exitErrorEvents
	case errors.As(err, &failed):
		code = exitFailure
	case errors.As(err, &flowFailed):
		code, message = exitFailure, false
	default:
		code = exitFailure
	}
	if message {
		msg := err.Error()
		if code == exitUsage {
			// urfave names long flags with one dash: say them as typed.
			msg = longFlagRe.ReplaceAllString(msg, "flag --$1")
		}
		fmt.Fprintf(stderr, "%s%s\n", prefix, msg)
		if code == exitUsage && cmd != "" {
			fmt.Fprintf(stderr, "Run 'obz %s --help' for usage.\n", cmd)
		}
	}
	if sig != nil && (code == exitOK || code == exitFailure && broken != nil) {
		if sig == syscall.SIGTERM {
			return exitTerminated
		}
		return exitInterrupted
	}
	return code
}
