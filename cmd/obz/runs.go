package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/obz-dev/obz/flow"
	"github.com/urfave/cli/v2"
)

const defaultRunBase = ".obz/runs"

const runsExit = `EXIT STATUS:
   0    success
   1    a run directory could not be read or removed
   2    usage error
`

func runsCommand(cmdName *string, runErr *error) *cli.Command {
	usageErr := func(name string) cli.OnUsageErrorFunc { return onUsageError(cmdName, name) }
	return &cli.Command{
		Name:      "runs",
		Usage:     "list the run directories of obz flow (flow, start, status, size); prune them",
		ArgsUsage: "[DIR]",
		Category:  "flows",
		CustomHelpTemplate: `NAME:
   obz runs - list the run directories of obz flow; obz runs prune removes old ones

USAGE:
   obz runs [--json] [DIR]
   obz runs prune [--keep N] [--older-than AGE] [--max-size SIZE] [--force] [--dry-run] [DIR]

DESCRIPTION:
   DIR is a base directory of run directories (default .obz/runs, where obz
   flow puts them unless the topology's run_dir or --run-dir says otherwise).
   Each run is listed oldest first with its flow, start time (UTC), status
   (done, failed, stopped, running, killed: no end recorded and no stage
   alive), size on disk (journals, logs, replays) and the run that resumed
   it, if one did.

EXAMPLES:
   obz runs
   obz runs --json .obz/runs | jq -r 'select(.status == "killed") | .dir'
   obz runs prune --keep 10
   obz runs prune --older-than 7d --max-size 1GiB --dry-run

OPTIONS:
{{range .VisibleFlags}}   {{.}}
{{end}}
` + runsExit,
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "one JSON object per run"}},
		OnUsageError: usageErr("runs"),
		Action: func(c *cli.Context) error {
			*cmdName = "runs"
			*runErr = listRuns(c)
			return nil
		},
		Subcommands: []*cli.Command{{
			Name:      "prune",
			Usage:     "remove run directories by count, age or total size",
			ArgsUsage: "[DIR]",
			CustomHelpTemplate: `NAME:
   obz runs prune - remove run directories by count, age or total size

USAGE:
   obz runs prune [--keep N] [--older-than AGE] [--max-size SIZE] [--force] [--dry-run] [DIR]

DESCRIPTION:
   Removes the run directories under DIR (default .obz/runs) that any of the
   options selects: beyond the newest N runs of each flow (--keep), started
   longer ago than AGE (--older-than 7d; units w, d, h, m, s), or, oldest
   first, while all runs together take more than SIZE (--max-size 1GiB;
   KiB/MiB/GiB are powers of 1024, KB/MB/GB of 1000; the newest run is never
   removed for size). At least one of them is required.

   Never removed: a run that is still running (a stage's process is alive),
   and, unless --force, a run that a later run resumed (its manifest's
   resumed_from names it), which obz runs lists with "resumed by". Only
   directories with a manifest.json are touched. Each removal (or, with
   --dry-run, each that would be made) is printed, with why, and so is each
   run kept although selected.

EXAMPLES:
   obz runs prune --keep 10
   obz runs prune --older-than 7d
   obz runs prune --max-size 1GiB --dry-run .obz/runs

OPTIONS:
{{range .VisibleFlags}}   {{.}}
{{end}}
` + runsExit,
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "keep", Usage: "keep the newest `N` runs of each flow"},
				&cli.StringFlag{Name: "older-than", Usage: "remove runs started longer ago than `AGE` (7d, 2w, 36h)"},
				&cli.StringFlag{Name: "max-size", Usage: "remove the oldest runs while all take more than `SIZE` (1GiB, 500MB)"},
				&cli.BoolFlag{Name: "force", Usage: "also remove runs that a later run resumed"},
				&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print what would be removed; remove nothing"},
			},
			OnUsageError: usageErr("runs prune"),
			Action: func(c *cli.Context) error {
				*cmdName = "runs prune"
				*runErr = pruneRuns(c)
				return nil
			},
		}},
	}
}

// runsBase is the DIR argument, or the default base.
func runsBase(c *cli.Context) (string, error) {
	switch c.NArg() {
	case 0:
		return defaultRunBase, nil
	case 1:
		return c.Args().First(), nil
	}
	return "", &usageError{msg: fmt.Sprintf("one DIR at most, got %d arguments", c.NArg())}
}

func readRuns(base string) ([]*flow.RunInfo, error) {
	runs, err := flow.ListRuns(base)
	if errors.Is(err, fs.ErrNotExist) && base == defaultRunBase {
		return nil, nil // no run yet
	}
	return runs, err
}

func listRuns(c *cli.Context) error {
	base, err := runsBase(c)
	if err != nil {
		return err
	}
	runs, err := readRuns(base)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		for _, r := range runs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(runs) == 0 {
		fmt.Fprintf(c.App.ErrWriter, "obz runs: no run directories in %s\n", base)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tFLOW\tSTARTED\tSTATUS\tSIZE\tNOTE")
	var total int64
	for _, r := range runs {
		note := ""
		if len(r.NeededBy) > 0 {
			note = "resumed by " + filepath.Base(r.NeededBy[len(r.NeededBy)-1])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", filepath.Base(r.Dir), r.Flow, r.Started.UTC().Format(time.DateTime), r.Status, humanSize(r.Size), note)
		total += r.Size
	}
	tw.Flush()
	fmt.Fprintf(w, "%d runs, %s in %s\n", len(runs), humanSize(total), base)
	return nil
}

func pruneRuns(c *cli.Context) error {
	base, err := runsBase(c)
	if err != nil {
		return err
	}
	o := flow.PruneOptions{Keep: c.Int("keep"), Force: c.Bool("force")}
	if c.IsSet("keep") && o.Keep < 1 {
		return &usageError{msg: fmt.Sprintf("--keep %d: keep at least 1 run (to remove every run, remove the directory)", o.Keep)}
	}
	if s := c.String("older-than"); s != "" {
		if o.OlderThan, err = flow.ParseAge(s); err != nil {
			return &usageError{msg: "--older-than: " + err.Error()}
		}
	}
	if s := c.String("max-size"); s != "" {
		if o.MaxSize, err = flow.ParseSize(s); err != nil {
			return &usageError{msg: "--max-size: " + err.Error()}
		}
	}
	if o.Keep == 0 && o.OlderThan == 0 && o.MaxSize == 0 {
		return &usageError{msg: "say what to remove: --keep N, --older-than AGE or --max-size SIZE"}
	}
	runs, err := readRuns(base)
	if err != nil {
		return err
	}
	dry := c.Bool("dry-run")
	verb := "removed"
	if dry {
		verb = "would remove"
	}
	var n int
	var freed int64
	for _, d := range flow.PlanPrune(runs, o) {
		name := filepath.Base(d.Run.Dir)
		if !d.Remove {
			if d.Why != "" {
				fmt.Fprintf(c.App.Writer, "%s: %s\n", name, d.Why)
			}
			continue
		}
		if !dry {
			if err := flow.RemoveRun(d.Run.Dir); err != nil {
				return err
			}
		}
		n++
		freed += d.Run.Size
		fmt.Fprintf(c.App.Writer, "%s %s (%s, %s)\n", verb, name, humanSize(d.Run.Size), d.Why)
	}
	fmt.Fprintf(c.App.Writer, "%s %d runs, %s\n", verb, n, humanSize(freed))
	return nil
}

// humanSize writes n bytes in KiB, MiB or GiB.
func humanSize(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f KiB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MiB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(k*k*k))
}

// applyRetention prunes base by a topology's [retention] after a run (not
// the run that just ended). It reports what it removed on w; a failure is
// reported, not the flow's: the run itself went as its summary says.
func applyRetention(w io.Writer, base string, o flow.PruneOptions, current string) {
	runs, err := flow.ListRuns(base)
	if err != nil {
		fmt.Fprintf(w, "obz flow: retention: %v\n", err)
		return
	}
	o.Current = current
	for _, d := range flow.PlanPrune(runs, o) {
		if !d.Remove {
			continue
		}
		if err := flow.RemoveRun(d.Run.Dir); err != nil {
			fmt.Fprintf(w, "obz flow: retention: %v\n", err)
			return
		}
		fmt.Fprintf(w, "obz flow: retention: removed %s (%s, %s)\n", d.Run.Dir, humanSize(d.Run.Size), d.Why)
	}
}
