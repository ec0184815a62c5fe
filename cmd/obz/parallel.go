package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"

	"github.com/obz-dev/obz/exitstatus"
	"github.com/obz-dev/obz/parallel"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
	"github.com/urfave/cli/v2"
)

const parallelHelp = `NAME:
   obz parallel - run a stage as N replicas, merged back in input order

USAGE:
   obz parallel [options] -- STAGE [STAGE OPTIONS] [ARGS...]

DESCRIPTION:
   Runs N replicas of STAGE and deals them the input events, so that a
   stage that costs CPU per event uses N cores. The output is byte for byte
   what one obz STAGE would write: the same events, in input order, with
   the same writer, seqs and parents, error events and watermarks in their
   place, the same EOF.

   filter, map, agg, top and dedupe run in one process: N goroutines, each
   with its own copy of the expression, answer the input batches while one
   goroutine emits the answers in input order (no pipes, nothing
   re-framed). For agg, top and dedupe the goroutines read the events
   (fields, numbers, keys) and the one goroutine updates the state (groups,
   leaderboards, keys held) in input order: the output is one process's,
   whatever the partition field. join reads its reference once, and its
   N goroutines share the table to look the stream's events up (a --by
   is accepted and changes nothing; join has no --processes). exec
   --one-to-one runs as one obz exec with N copies of its program, dealt
   runs of --batch events in turn, their answers passed on in input order.
   Every other stage, and these six with --processes, runs as N processes
   of obz STAGE behind a coordinator that deals the events and merges the
   outputs.

   Round robin (no --by): batches of events go to the replicas in turn
   (--batch events to a replica process or program). STAGE must answer each event on
   its own: filter, map, join, exec --one-to-one. Stages that keep state across
   events are refused.

   Partitioned (--by FIELD): each event goes to the replica process its
   FIELD hashes to (its JSON value, compared as jq does; absent is null), so
   every key is seen by one replica: agg --by, top --group and dedupe --key
   partitioned by one of their key fields give the results one process
   gives. FIELD must be one of the stage's key fields. Order: answers to
   events (dedupe's passes) come in input order; results written at the end
   of input (agg's groups, top's leaderboards) come in the order one process
   meets their keys, so with FIELD as the whole key the output is byte for
   byte one process's; with a key of several fields, groups follow the
   first event of their FIELD value (the same order on every run).
   dedupe --last N holds up to N keys per replica process.

   obz's own options (-r, --journal, --name, --on-error, --stats ...) go
   before the --, to obz parallel; STAGE's own options after it. A replica
   that fails, dies or breaks its output fails the stage (exit 1, poison
   EOF), as one process failing would. Replica processes run in their own
   process group: a Ctrl-C reaches obz parallel, which drains. In a flow, a stage
   says replicas = N (and partition_by = "FIELD") instead (docs/topology.md).

EXAMPLES:
   obz gen --count 100000 | obz parallel -j 2 -r -- map '.user | ascii_downcase' | head -n 3
   obz gen --count 100000 | obz parallel -j 4 --stats -- filter '.user | test("^u1")' > /dev/null
   obz gen --count 100000 | obz parallel -j 2 --by user -r -- agg --by user --sum amount | head -n 3
   obz read testdata/orders.csv | obz parallel -j 2 -r -- join --ref testdata/customers.csv --on customer | head -n 3
   obz read testdata/orders.ndjson | obz parallel -j 2 -r -- exec --one-to-one -- python3 -c 'import sys; [print(l, end="") for l in sys.stdin]'

OPTIONS:
{{range .VisibleFlags}}   {{.}}
{{end}}
   Options may come before or after arguments; -- ends obz parallel's options.

EXIT STATUS:
` + exitstatus.Help + `
`

// parallelSpec is the coordinator's place in the runner: named after the
// stage it replicates, so that the output is that stage's.
func parallelSpec(inner *runner.Spec) *runner.Spec {
	return &runner.Spec{Name: inner.Name, Family: inner.Family, Effects: inner.Effects}
}

// parallelCommand is the command obz parallel; do runs it (runParallel) or
// only checks it (checkParallel, for obz flow's check of replicas = N).
func parallelCommand(reg stages.Registry, do func(*cli.Context, stages.Registry) error, cmdName *string, runErr *error) *cli.Command {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "replicas", Aliases: []string{"j"}, Value: runtime.NumCPU(), Usage: "number of replicas (goroutines for filter, map, agg, top and dedupe, programs for exec, else processes)"},
		&cli.StringFlag{Name: "by", Usage: "partition field: each value goes to one replica (for agg --by, top --group, dedupe --key)"},
		&cli.IntFlag{Name: "batch", Value: parallel.DefaultBatch, Usage: "events dealt to a replica process or exec's program at a time (round robin)"},
		&cli.BoolFlag{Name: "processes", Usage: "run filter, map, agg, top, dedupe and exec as replica processes too, as every other stage, instead of in one process"},
	}
	// PassesPayloads: filter's replicas in one process journal as one
	// filter does (--journal-sources).
	flags = append(flags, runnerFlags(&runner.Spec{Family: runner.FamilyTransform, PassesPayloads: true})...)
	return &cli.Command{
		Name:               "parallel",
		Usage:              "run a stage as N replicas, merged back in input order",
		ArgsUsage:          "-- STAGE [ARGS...]",
		Category:           "flows",
		CustomHelpTemplate: parallelHelp,
		Flags:              flags,
		OnUsageError:       onUsageError(cmdName, "parallel"),
		Action: func(c *cli.Context) error {
			*cmdName = "parallel"
			*runErr = do(c, reg)
			return nil
		},
	}
}

func runParallel(c *cli.Context, reg stages.Registry) error {
	spec, st, workers, err := buildParallel(c, reg)
	if err != nil {
		return err
	}
	return runBuiltWorkers(c, spec, st, workers)
}

// checkParallel checks obz parallel's command line as runParallel would
// run it, without starting anything.
func checkParallel(c *cli.Context, reg stages.Registry) error {
	_, _, _, err := buildParallel(c, reg)
	return err
}

// buildParallel checks the command line and makes the stage to run: the
// stage itself with its events answered on workers goroutines (filter and
// map: runner.Concurrent, unless --processes), the stage running its own
// replicas (exec --one-to-one: runner.Replicated, unless --processes;
// workers 0), or the coordinator of replica processes (workers 0).
func buildParallel(c *cli.Context, reg stages.Registry) (spec *runner.Spec, st runner.Stage, workers int, err error) {
	args := c.Args().Slice()
	if len(args) == 0 {
		return nil, nil, 0, &usageError{msg: "parallel needs a stage to run: obz parallel -j N -- STAGE [ARGS...]"}
	}
	n := c.Int("replicas")
	if n < 1 {
		return nil, nil, 0, &usageError{msg: fmt.Sprintf("--replicas must be 1 or more, not %d", n)}
	}
	if c.Int("batch") < 1 {
		return nil, nil, 0, &usageError{msg: fmt.Sprintf("--batch must be 1 or more, not %d", c.Int("batch"))}
	}
	inner, built, err := checkReplicated(reg, args[0], args[1:], c.String("by"), c.Bool("stats"))
	if err != nil {
		return nil, nil, 0, err
	}
	if inner.Family == runner.FamilyJoin && c.Bool("processes") {
		return nil, nil, 0, &usageError{msg: "join's replicas share one reference table, read once: they run in one process (drop --processes)"}
	}
	if _, ok := built.(runner.Concurrent); ok && !c.Bool("processes") {
		// One process: the stage as one obz STAGE runs it, its events
		// answered (agg's, top's, dedupe's read) on n goroutines. A
		// partition field has nothing to do there: the state stays one.
		return inner, built, n, nil
	}
	if r, ok := built.(runner.Replicated); ok && c.String("by") == "" && !c.Bool("processes") && r.Replicate(n, c.Int("batch")) {
		// One process: the stage runs its n replicas itself (exec
		// --one-to-one: n programs).
		return inner, built, 0, nil
	}
	spec = parallelSpec(inner)
	env, err := stageEnv(c, spec)
	if err != nil {
		return nil, nil, 0, err
	}
	exe, err := selfPath()
	if err != nil {
		return nil, nil, 0, err
	}
	name := c.String("name")
	if name == "" {
		name = inner.Name
	}
	st = parallel.New(parallel.Config{Exe: exe, Stage: inner.Name, Args: args[1:], Replicas: n,
		By: c.String("by"), Name: name, MaxLine: env.MaxLine, Batch: c.Int("batch")})
	return spec, st, 0, nil
}

// checkReplicated parses STAGE ARGS as obz would, builds the stage (which
// checks its flags and compiles its expressions) and checks that it can run
// as replicas: per event, or partitioned by one of its key fields. Runner
// options belong to obz parallel, not to the replicas; stats is obz
// parallel's --stats, which the stage built sees as its own. It returns
// the stage's spec and the stage built.
func checkReplicated(reg stages.Registry, command string, args []string, by string, stats bool) (*runner.Spec, runner.Stage, error) {
	spec := reg.Lookup(command)
	if spec == nil {
		return nil, nil, &usageError{msg: fmt.Sprintf("parallel: unknown stage %q", command)}
	}
	var built runner.Stage
	check := func(c *cli.Context, spec *runner.Spec) error {
		var err error
		if built, err = spec.New(statsOptions{cliOptions{c}, stats}); err != nil {
			return fmt.Errorf("%s: %w", command, err)
		}
		for _, f := range runnerFlags(spec) {
			if name := f.Names()[0]; c.IsSet(name) {
				return &usageError{msg: fmt.Sprintf("--%s is obz parallel's option: give it before the --, e.g. obz parallel -j 2 --%s ... -- %s ...", name, name, command)}
			}
		}
		o := cliOptions{c}
		var perEvent error
		if spec.PerEvent == nil {
			perEvent = fmt.Errorf("%s keeps state across events", command)
		} else {
			perEvent = spec.PerEvent(o)
		}
		if by == "" {
			if perEvent == nil {
				return nil
			}
			msg := fmt.Sprintf("%s cannot run as replicas dealt round robin: %v", command, perEvent)
			if spec.PartitionKeys != nil && len(spec.PartitionKeys(o)) > 0 {
				k := spec.PartitionKeys(o)[0]
				msg += fmt.Sprintf("; partition it by one of its keys: obz parallel --by %s (partition_by = %q in a flow)", k, k)
			}
			return &usageError{msg: msg}
		}
		if perEvent == nil {
			return nil
		}
		var keys []string
		if spec.PartitionKeys != nil {
			keys = spec.PartitionKeys(o)
		}
		if slices.Contains(keys, by) || slices.Contains(keys, "."+by) || slices.Contains(keys, strings.TrimPrefix(by, ".")) {
			return nil
		}
		if len(keys) == 0 {
			return &usageError{msg: fmt.Sprintf("%s with these options cannot be partitioned: %v, and its state is not kept by key (agg --by without --every or --window, top --group without --every, dedupe --key)", command, perEvent)}
		}
		return &usageError{msg: fmt.Sprintf("--by %s is not a key of %s (its keys: %s): each key must go to one replica", by, command, strings.Join(keys, ", "))}
	}
	var cmdName string
	var runErr error
	app := baseApp(strings.NewReader(""), io.Discard, io.Discard)
	app.Commands = append(app.Commands, stageCommand(spec, check, &cmdName, &runErr))
	argv, err := permuteArgs(append([]string{"obz", command}, args...), app)
	if err == nil {
		err = app.Run(argv)
	}
	if err == nil {
		err = runErr
	}
	if err != nil {
		var ue *usageError
		var se *runner.UsageError
		if errors.As(err, &ue) || errors.As(err, &se) {
			return nil, nil, &usageError{msg: err.Error()}
		}
		return nil, nil, err
	}
	return spec, built, nil
}

// statsOptions are a stage's options with obz parallel's --stats.
type statsOptions struct {
	cliOptions
	stats bool
}

func (o statsOptions) Bool(n string) bool {
	if n == "stats" {
		return o.stats
	}
	return o.cliOptions.Bool(n)
}
