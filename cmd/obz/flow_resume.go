package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/replay"
	"github.com/obz-dev/obz/stages"
	"github.com/urfave/cli/v2"
)

// resumeFlow runs obz flow --resume RUN_DIR (docs/journal.md, Resume): the
// recorded topology again, in a new run directory beside RUN_DIR, with
// each source checked against its journal up to where it was killed and
// each sink told what it had delivered (package replay plans it).
func resumeFlow(c *cli.Context, reg stages.Registry) error {
	if c.NArg() != 1 {
		return &usageError{msg: "--resume takes one RUN_DIR (and no topology file: the run directory names it)"}
	}
	runDir := c.Args().First()
	p, err := replay.PlanResume(replay.ResumeOptions{
		RunDir: runDir, Force: c.Bool("force"), Commands: flowCommands(reg), Stages: stageLookup(reg, c.App), Conn: natsConnEnv(c),
	})
	if err != nil {
		return replayError(err)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(c.App.ErrWriter, "obz flow: %s\n", n)
	}
	base := c.String("run-dir")
	if base == "" {
		base = filepath.Dir(filepath.Clean(runDir))
	}
	if err := p.Begin(); err != nil {
		return err
	}
	// The killed run's --journal-sources holds unless the resume sets another.
	js := cmp.Or(c.String("journal-sources"), p.Recorded.JournalSources)
	return superviseFlow(c, reg, p.Topology, flow.Options{Stdout: c.App.Writer, RunDir: base, ResumedFrom: p.From, JournalSources: js,
		JournalCodec: c.String("journal-codec")},
		func(res *flow.Result) { p.Done(res.RunDir) })
}

// stageLookup tells package replay about a stage's command line (argv[0]
// the stage): its spec's effects for the options the line gives, parsed as
// the stage parses them, and the line with its options first.
func stageLookup(reg stages.Registry, app *cli.App) replay.Lookup {
	return func(argv []string) (replay.Stage, error) {
		spec := reg.Lookup(argv[0])
		if spec == nil {
			return replay.Stage{}, fmt.Errorf("%s is not a stage", argv[0])
		}
		args, err := permuteArgs(append([]string{"obz"}, argv...), app)
		if err != nil {
			return replay.Stage{}, err
		}
		args = args[1:]
		set := flag.NewFlagSet(spec.Name, flag.ContinueOnError)
		set.SetOutput(io.Discard)
		for _, f := range stageFlags(spec) {
			if err := f.Apply(set); err != nil {
				return replay.Stage{}, err
			}
		}
		if err := set.Parse(args[1:]); err != nil {
			return replay.Stage{}, err
		}
		o := cliOptions{cli.NewContext(app, set, nil)}
		return replay.Stage{Traits: spec.Effects.Traits(o), Argv: args}, nil
	}
}

// replayError turns package replay's refusals (exit 3) and invalid
// topologies (exit 2) into the errors of the exit table.
func replayError(err error) error {
	var (
		re *replay.RefusedError
		te *replay.TopologyError
	)
	switch {
	case errors.As(err, &re):
		return &refusedError{msg: re.Msg}
	case errors.As(err, &te):
		return &usageError{msg: te.Error()}
	}
	return err
}
