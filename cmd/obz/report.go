package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/report"
)

func reportCommand(cmdName *string, runErr *error) *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "write a run of obz flow as one self-contained HTML page",
		ArgsUsage: "RUN_DIR",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the page to `FILE` (- for stdout); default RUN_DIR/report.html"},
		},
		CustomHelpTemplate: `NAME:
   obz report - write a run of obz flow as one self-contained HTML page

USAGE:
   obz report RUN_DIR [-o FILE]

DESCRIPTION:
   Reads what a run of obz flow left in its run directory (manifest.json, the
   journals, events.ndjson, replays/*/verify.json) and writes one HTML file:
   the flow's graph with the events on each edge, each stage's counts, busy
   and waiting time, batch processing time and end-to-end latency (p50, p99,
   also as a chart) and journal size, its throughput over time (from the
   times the journal's blocks were written), errors by kind with the first
   dead letters of each stage, the verdicts of the run's verified replays,
   and the supervisor's events. The page has its style inline and no script:
   it loads nothing when opened, so it can be mailed or archived with the run.
   It reads the run and writes only the page; a damaged journal is listed on
   the page, not fatal.

OPTIONS:
   -o FILE, --output FILE   where to write the page (- for stdout);
                            default RUN_DIR/report.html

EXAMPLES:
   obz flow testdata/flows/demo.toml && obz report $(ls -d .obz/runs/demo-* | tail -n 1)
   obz report $(ls -d .obz/runs/demo-* | tail -n 1) -o .obz/demo-report.html

EXIT STATUS:
   0    the page was written
   1    the run directory or the page could not be read or written
   2    usage error
`,
		OnUsageError: onUsageError(cmdName, "report"),
		Action: func(c *cli.Context) error {
			*cmdName = "report"
			*runErr = runReport(c)
			return nil
		},
	}
}

func runReport(c *cli.Context) error {
	if c.NArg() != 1 {
		return &usageError{msg: "report takes one run directory, e.g. obz report .obz/runs/demo-20261204T101500.000Z"}
	}
	dir := c.Args().Get(0)
	r, err := report.Load(dir)
	if err != nil {
		if errors.Is(err, flow.ErrNoManifest) {
			return fmt.Errorf("%s is not a run directory of obz flow (no manifest.json)", dir)
		}
		return err
	}
	out := c.String("output")
	if out == "-" {
		w := bufio.NewWriter(c.App.Writer)
		if err := report.Write(w, r); err != nil {
			return err
		}
		return w.Flush()
	}
	if out == "" {
		out = filepath.Join(dir, "report.html")
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = report.Write(w, r)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	fmt.Fprintln(c.App.ErrWriter, "obz report: wrote", out)
	return nil
}
