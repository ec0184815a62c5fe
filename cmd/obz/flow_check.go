package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
	"github.com/urfave/cli/v2"
)

// stageChecker is obz flow's check of a stage's command line: it parses
// `obz COMMAND ARGS...` as the CLI does (the same app settings, flags and
// argument permutation) and builds the stage, which compiles its
// expressions, without running anything. It reports what obz would exit 2
// for (a usage error); what depends on the files around a stage when it
// runs (its dir, an input made by then) is the stage's to report.
func stageChecker(reg stages.Registry) flow.StageCheck {
	return func(command string, args []string) error {
		var cmdName string
		var runErr error
		app := baseApp(strings.NewReader(""), io.Discard, io.Discard)
		switch command {
		case "parallel":
			// A stage with replicas = N runs as obz parallel.
			app.Commands = append(app.Commands, parallelCommand(reg, checkParallel, &cmdName, &runErr))
		case "replay":
			// obz replay stands in for a source in a replayed or resumed
			// run: its command line is parsed, nothing is read.
			cmd := replayCommand(&cmdName, &runErr)
			cmd.Action = func(*cli.Context) error { return nil }
			app.Commands = append(app.Commands, cmd)
		default:
			spec := reg.Lookup(command)
			if spec == nil {
				return &usageError{msg: fmt.Sprintf("unknown command %q", command)}
			}
			app.Commands = append(app.Commands, stageCommand(spec, checkStage, &cmdName, &runErr))
		}
		argv, err := permuteArgs(append([]string{"obz", command}, args...), app)
		if err == nil {
			err = app.Run(argv)
		}
		if err == nil {
			err = runErr
		}
		if err == nil {
			return nil
		}
		var usage *usageError
		var sUsage *runner.UsageError
		if errors.As(err, &usage) || errors.As(err, &sUsage) {
			return errors.New(asTyped(err.Error()))
		}
		return nil
	}
}

// checkStage builds the stage and checks the runner's options, as runStage
// does before it runs the stage; the fds obz flow names are not touched.
func checkStage(c *cli.Context, spec *runner.Spec) error {
	if _, err := spec.New(cliOptions{c}); err != nil {
		return err
	}
	_, err := stageEnv(c, spec)
	return err
}
