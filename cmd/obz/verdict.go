package main

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
	"github.com/obz-dev/obz/wire"
	"github.com/urfave/cli/v2"
)

// A stage that fails leaves its consumers a verdict: a poison EOF frame
// (docs/wire.md, "What a failed producer leaves"). Once the runner has
// started, it writes that EOF itself; a stage that fails before (a missing
// file, a bad expression, a bad flag, an unknown command) gets it here, so
// that `obz read missing.csv | obz write out.ndjson` makes write fail
// instead of finishing an empty file.

// runnerEnded wraps the error of a stage whose runner ran: it wrote the
// stage's EOF (poison, truncated, or natural before a later failure such
// as closing the journal), and no verdict is to be added.
type runnerEnded struct{ err error }

func (e *runnerEnded) Error() string { return e.err.Error() }
func (e *runnerEnded) Unwrap() error { return e.err }

// needsVerdict says whether a command that ended with err still owes its
// consumers a verdict: it failed, and no runner wrote its EOF.
func needsVerdict(err error) bool {
	var ended *runnerEnded
	return err != nil && !errors.As(err, &ended)
}

// verdictTarget is where a failed stage's poison EOF goes, read from its
// command line.
type verdictTarget struct {
	writer string
	raw    bool  // -r: the output is bare payloads, which a frame would corrupt
	outFDs []int // --out-fd (under obz flow): the EOF goes there, not to stdout
}

// stageVerdictTarget reads the writer name (--name, or the stage's name),
// -r and --out-fd from a stage's command line as typed: the parse that
// failed may never have read them. It returns ok false for commands that
// write no frame stream: sinks (their stdout is payloads or nothing) and
// obz's other commands.
func stageVerdictTarget(args []string, reg stages.Registry, app *cli.App) (t verdictTarget, ok bool) {
	if len(args) < 2 || args[1] == "" || strings.HasPrefix(args[1], "-") {
		return t, false
	}
	t.writer = args[1]
	spec := reg.Lookup(args[1])
	if spec == nil {
		// An unknown command in a pipeline is a failed stage too; its
		// consumer names it as typed (escaped where it is printed).
		if app.Command(args[1]) != nil {
			return t, false // flow, journal, replay, diff, help, version
		}
		return t, true
	}
	if spec.Family == runner.FamilySink {
		return t, false
	}
	takesValue := map[string]bool{}
	if cmd := app.Command(args[1]); cmd != nil {
		for _, f := range cmd.Flags {
			_, isBool := f.(*cli.BoolFlag)
			for _, n := range f.Names() {
				takesValue[n] = !isBool
			}
		}
	}
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			break
		}
		if len(a) < 2 || a[0] != '-' {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasValue && takesValue[name] && i+1 < len(rest) {
			i++
			value, hasValue = rest[i], true
		}
		switch name {
		case "r", "raw":
			t.raw = !hasValue || value == "true" || value == "1"
		case "name":
			if value != "" {
				t.writer = value
			}
		case "out-fd":
			if fd, err := strconv.Atoi(value); err == nil {
				t.outFDs = append(t.outFDs, fd)
			}
		}
	}
	return t, true
}

// leaveVerdict writes a poison EOF with no events to the stage's outputs:
// its --out-fd descriptors, or else stdout unless that is a terminal (the
// user reads the error there) or the output is -r (bare payloads for
// other programs, which take every line for data).
func leaveVerdict(t verdictTarget, stdout io.Writer) {
	if t.raw {
		return
	}
	eof := wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindEOF, Writer: t.writer, EOF: wire.Poison})
	if len(t.outFDs) > 0 {
		for _, fd := range t.outFDs {
			if f := inheritedFile(fd, "fd "+strconv.Itoa(fd)); f != nil {
				f.Write(eof)
			}
		}
		return
	}
	if f, ok := stdout.(*os.File); ok && isTerminal(f) {
		return
	}
	stdout.Write(eof)
}
