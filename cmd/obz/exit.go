package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"syscall"

	"github.com/obz-dev/obz/exitstatus"
	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/runner"
	"github.com/urfave/cli/v2"
)

var longFlagRe = regexp.MustCompile(`flag -([a-z][a-z0-9-]+)`)

// asTyped names long flags in a usage message as they are typed: urfave
// names them with one dash.
func asTyped(msg string) string { return longFlagRe.ReplaceAllString(msg, "flag --$1") }

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
		status     *exitStatusError
		code       int
		message    = true
	)
	switch {
	case err == nil:
		code, message = exitstatus.OK, false
	case errors.As(err, &usage), errors.As(err, &sUsage):
		code = exitstatus.Usage
	case errors.As(err, &status):
		// A command obz ran (obz nats serve -- CMD) said its own.
		code, message = status.code, false
	case errors.As(err, &refused):
		code = exitstatus.Refused
	case errors.As(err, &broken):
		for _, p := range broken.Problems {
			fmt.Fprintf(stderr, "%s%s\n", prefix, p)
		}
		code, message = exitstatus.Failure, false
	case errors.As(err, &events), errors.Is(err, errFlowErrorEvents):
		code = exitstatus.ErrorEvents
	case errors.As(err, &failed):
		code = exitstatus.Failure
	case errors.As(err, &flowFailed):
		code, message = exitstatus.Failure, false
	default:
		code = exitstatus.Failure
	}
	if message {
		msg := err.Error()
		if code == exitstatus.Usage {
			msg = asTyped(msg)
		}
		fmt.Fprintf(stderr, "%s%s\n", prefix, msg)
		if code == exitstatus.Usage && cmd != "" {
			fmt.Fprintf(stderr, "Run 'obz %s --help' for usage.\n", cmd)
		}
	}
	if sig != nil && (code == exitstatus.OK || code == exitstatus.Failure && broken != nil) {
		if sig == syscall.SIGTERM {
			return exitstatus.Terminated
		}
		return exitstatus.Interrupted
	}
	return code
}

var undefinedFlagRe = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)

// onUsageError is every command's OnUsageError: it records the command's
// name for the message prefix and turns urfave's parse error into a usage
// error (exit 2), with a suggestion for a misspelt flag.
func onUsageError(cmdName *string, name string) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, _ bool) error {
		*cmdName = name
		var flags []cli.Flag
		if c != nil && c.Command != nil {
			flags = c.Command.Flags
		}
		return flagUsageError(err, flags)
	}
}

// flagUsageError names an unknown flag as it is typed and suggests the
// closest one the command has.
func flagUsageError(err error, flags []cli.Flag) error {
	m := undefinedFlagRe.FindStringSubmatch(err.Error())
	if m == nil {
		return &usageError{msg: err.Error()}
	}
	msg := "unknown flag " + dashed(m[1])
	if len(m[1]) > 2 {
		var names []string
		for _, f := range flags {
			if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
				continue
			}
			for _, n := range f.Names() {
				if len(n) > 1 {
					names = append(names, n)
				}
			}
		}
		if s := flow.Closest(m[1], names); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", dashed(s))
		}
	}
	return &usageError{msg: msg}
}

// dashed writes a flag name as it is typed: -r, --raw.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
