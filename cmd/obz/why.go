package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/report"
)

func whyCommand(cmdName *string, runErr *error) *cli.Command {
	return &cli.Command{
		Name:         "why",
		Usage:        "follow an output event of a run back to the source event it came from",
		ArgsUsage:    "RUN_DIR STAGE SEQ",
		OnUsageError: onUsageError(cmdName, "why"),
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per step, for tools"},
		},
		CustomHelpTemplate: `NAME:
   obz why - follow an output event of a run back to the source event it came from

USAGE:
   obz why RUN_DIR STAGE SEQ [--json]

DESCRIPTION:
   Reads the run's journals and prints the chain of events that produced
   event SEQ of STAGE: the event itself, then the event of the stage before
   that it was made from (every data and error frame names its parent: the
   writer and seq of the input event), and so on to a source's event, whose
   seq is its position in what the source read (the Nth record of its input,
   counting records that were errors). For a sink, SEQ is the Nth event it
   delivered (its Nth receipt). A chain stops early at an event made from
   several (an aggregate of agg, a leaderboard of top) and names the stage.

OPTIONS:
   --json   one JSON object per step (stage, command, seq, kind, event,
            error, end) instead of text

EXAMPLES:
   obz flow testdata/flows/demo.toml > /dev/null && obz why $(ls -d .obz/runs/demo-* | tail -n 1) report 3
   obz why $(ls -d .obz/runs/demo-* | tail -n 1) big 2 --json

EXIT STATUS:
   0    the chain was printed
   1    the run or a journal could not be read, or has no such event
   2    usage error
`,
		Action: func(c *cli.Context) error {
			*cmdName = "why"
			*runErr = runWhy(c)
			return nil
		},
	}
}

func runWhy(c *cli.Context) error {
	if c.NArg() != 3 {
		return &usageError{msg: "why takes a run directory, a stage and a seq, e.g. obz why .obz/runs/demo-20261204T101500.000Z report 3"}
	}
	dir, stage := c.Args().Get(0), c.Args().Get(1)
	seq, err := strconv.ParseUint(c.Args().Get(2), 10, 64)
	if err != nil || seq == 0 {
		return &usageError{msg: fmt.Sprintf("SEQ must be a positive number, not %q", c.Args().Get(2))}
	}
	steps, err := report.Why(dir, stage, seq)
	if errors.Is(err, flow.ErrNoManifest) {
		return fmt.Errorf("%s is not a run directory of obz flow (no manifest.json)", dir)
	}
	w := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		for _, s := range steps {
			if e := enc.Encode(s); e != nil {
				return e
			}
		}
		return err
	}
	for i, s := range steps {
		arrow := "  "
		if i > 0 {
			arrow = "<-"
		}
		what := string(s.Payload)
		switch {
		case s.Kind == "receipt":
			what = fmt.Sprintf("delivered %s seq %d", s.Of.Writer, s.Of.Seq)
		case s.Error != nil:
			if what == "" {
				what = strconv.Quote(string(s.Error.Raw))
			}
			at := ""
			switch {
			case !s.Error.Event.IsZero():
				at = fmt.Sprintf(", on %s seq %d", s.Error.Event.Writer, s.Error.Event.Seq)
			case s.Error.Line > 0:
				at = fmt.Sprintf(", on its input line %d", s.Error.Line)
			}
			what = fmt.Sprintf("error event (%s, raised by %s%s): %s: %s", s.Error.Kind, s.Error.Stage, at, s.Error.Msg, what)
		}
		fmt.Fprintf(w, "%s %s seq %d (%s): %s\n", arrow, s.Stage, s.Seq, strings.Join(s.Command, " "), what)
		if s.End != "" {
			fmt.Fprintf(w, "   %s: %s\n", s.Stage, s.End)
		}
	}
	return err
}
