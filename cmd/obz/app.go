package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/obz-dev/obz/exitstatus"
	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
	"github.com/urfave/cli/v2"
)

// run is obz's whole command line: main only turns its result into an exit
// status. Streams are injected so tests can call it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := watchSignals(cancel)
	defer sigs.Stop()

	code := make(chan int, 1)
	go func() { code <- runCommand(ctx, args, stdin, stdout, stderr, sigs.Signal) }()
	select {
	case c := <-code:
		return c
	case sig := <-sigs.Second():
		// The command is still draining: main ends the process, and with
		// it the command (obz flow's stages die with it: Pdeathsig).
		fmt.Fprintln(stderr, "obz: second signal, stopping now")
		return exitCode(nil, "", sig, io.Discard)
	}
}

// runCommand parses args and runs the command they name. signalled says
// which stop signal came, if one did.
func runCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, signalled func() os.Signal) int {
	if len(args) >= 2 && (args[1] == "--version" || args[1] == "-V") {
		fmt.Fprintln(stdout, readBuildVersion().long())
		return exitstatus.OK
	}
	reg := stages.All()
	var cmdName string
	var runErr error
	app := newApp(reg, stdin, stdout, stderr, &cmdName, &runErr)
	// A stage that fails before its runner wrote an EOF leaves its
	// consumers a poison EOF (verdict.go).
	verdict := func(err error) {
		if t, ok := stageVerdictTarget(args, reg, app); ok && needsVerdict(err) {
			leaveVerdict(t, stdout)
		}
	}
	if err := checkCommand(args, app); err != nil {
		verdict(err)
		return exitCode(err, "", nil, stderr)
	}
	permuted, err := permuteArgs(args, app)
	if err != nil {
		verdict(err)
		return exitCode(err, args[1], nil, stderr)
	}
	if err := app.RunContext(ctx, permuted); err != nil && runErr == nil {
		// Every action reports through runErr: what urfave returns itself
		// is a command line it could not parse.
		runErr = &usageError{msg: err.Error()}
	}
	verdict(runErr)
	return exitCode(runErr, cmdName, signalled(), stderr)
}

func newApp(reg stages.Registry, stdin io.Reader, stdout, stderr io.Writer, cmdName *string, runErr *error) *cli.App {
	app := baseApp(stdin, stdout, stderr)
	app.CustomAppHelpTemplate = rootHelp(reg)
	for _, spec := range reg {
		app.Commands = append(app.Commands, stageCommand(spec, runStage, cmdName, runErr))
	}
	app.Commands = append(app.Commands, parallelCommand(reg, runParallel, cmdName, runErr))
	app.Commands = append(app.Commands, flowCommand(reg, cmdName, runErr), runsCommand(cmdName, runErr))
	app.Commands = append(app.Commands, natsCommand(cmdName, runErr))
	app.Commands = append(app.Commands, journalCommand(cmdName, runErr), replayCommand(cmdName, runErr), diffCommand(cmdName, runErr), reportCommand(cmdName, runErr), whyCommand(cmdName, runErr))
	app.Commands = append(app.Commands, completionCommand(cmdName, runErr), manCommand(cmdName, runErr))
	app.Commands = append(app.Commands, &cli.Command{
		Name:  "version",
		Usage: "print obz's version",
		Action: func(c *cli.Context) error {
			fmt.Fprintln(c.App.Writer, readBuildVersion().long())
			return nil
		},
	})
	return app
}

// baseApp is the urfave app without its commands: how obz parses every
// command line (the stage check of obz flow parses with it too).
func baseApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                   "obz",
		Usage:                  "stream-processing stages for the shell, over framed NDJSON",
		Reader:                 stdin,
		Writer:                 stdout,
		ErrWriter:              stderr,
		HideVersion:            true,
		ExitErrHandler:         func(*cli.Context, error) {},
		UseShortOptionHandling: false, // permuteArgs splits -rn1 as getopt does
		EnableBashCompletion:   true,
		// Stages split list values themselves: choice:a,b,c must stay one value.
		DisableSliceFlagSeparator: true,
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return flagUsageError(err, append(c.App.Flags, versionFlag))
		},
	}
}

// versionFlag is obz --version and -V, answered before urfave parses
// anything (urfave's own version flag is a package variable).
var versionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print obz's version"}

// checkCommand rejects an unknown command, or an unknown subcommand of one
// that has them (obz journal), before urfave sees it, with a suggestion.
func checkCommand(args []string, app *cli.App) error {
	isHelp := func(s string) bool { return s == "help" || s == "h" }
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		return nil
	}
	if isHelp(args[1]) {
		// obz help CMD [SUB]: the same check for what help is asked about.
		return checkCommand(append([]string{args[0]}, args[2:]...), app)
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return unknownCommand("", args[1], app.Commands)
	}
	// A command with an action of its own takes arguments besides its
	// subcommands (obz runs DIR, obz runs prune).
	if len(cmd.Subcommands) == 0 || cmd.Action != nil || len(args) < 3 || strings.HasPrefix(args[2], "-") {
		return nil
	}
	sub := args[2]
	if isHelp(sub) && len(args) > 3 {
		sub = args[3]
	}
	if cmd.Command(sub) == nil && !isHelp(sub) {
		return unknownCommand(cmd.Name+" ", sub, cmd.Subcommands)
	}
	return nil
}

// unknownCommand is the usage error for a command (parent "") or a
// subcommand (parent "journal ") that does not exist: it suggests the
// closest name, or lists the subcommands.
func unknownCommand(parent, name string, cmds []*cli.Command) error {
	var known []string
	for _, c := range cmds {
		known = append(known, c.Names()...)
	}
	msg := fmt.Sprintf("unknown command %q", parent+name)
	switch s := flow.Closest(name, append(known, "help")); {
	case s != "":
		msg += fmt.Sprintf(" (did you mean %q?)", parent+s)
	case parent != "":
		msg += fmt.Sprintf(" (%scommands: %s)", parent, strings.Join(known, ", "))
	}
	return &usageError{msg: msg + fmt.Sprintf("; run 'obz %shelp' for the list", parent)}
}

// familyOrder is the order of stage families in `obz help`: the way
// events flow.
var familyOrder = []runner.Family{runner.FamilySource, runner.FamilyTransform, runner.FamilyStateful,
	runner.FamilyJoin, runner.FamilyObserver, runner.FamilySink}

// rootHelp is `obz help`: the stages by family, then the other commands.
func rootHelp(reg stages.Registry) string {
	var b strings.Builder
	b.WriteString(`obz - stream-processing stages for the shell, over framed NDJSON

USAGE:
   obz STAGE [options] [args]             one stage: reads stdin, writes stdout
   obz read FILE | obz STAGE ... | obz write OUT
   obz flow TOPOLOGY.toml                 a DAG of stages as supervised processes
   obz parallel -j N -- STAGE [args]      one stage as N replicas, output in input order
   obz STAGE --help                       options and examples of one command

Each stage reads and writes framed NDJSON: every event carries its writer
and sequence number, and every stream ends with an EOF frame holding the
count, so each stage checks that nothing was lost and that its upstream did
not crash. Bad lines become error events that flow to the sink instead of
vanishing. A stage that fails (a missing file, a bad expression) ends its
framed output with a poison EOF, so the stages after it fail too. Bare
NDJSON is accepted as input; -r writes bare NDJSON for jq. Output is
pretty on a terminal, framed into a pipe or file.
`)
	for _, fam := range familyOrder {
		first := true
		for _, s := range reg {
			if s.Family != fam {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n%s STAGES:\n", strings.ToUpper(string(fam)))
				first = false
			}
			fmt.Fprintf(&b, "   %-9s %s\n", s.Name, s.Summary)
		}
	}
	b.WriteString(`
OTHER COMMANDS:
   parallel  run a stage as N replicas, merged back in input order
   flow      run a topology of stages (a DAG) as supervised processes
   runs      list run directories (flow, start, status, size); runs prune removes old ones
   journal   inspect journals: obz journal cat|stat|verify|recover FILE.zst
   replay    stream a journal's frames to stdout, to feed any stage
   diff      compare two journals event by event
   report    write a run of obz flow as one self-contained HTML page
   why       follow an output event of a run back to the source event it came from
   version   print obz's version, VCS revision and protocol (also obz --version, obz -V)
   completion  print a shell completion script: obz completion bash|zsh|fish
   man       print the manual page (roff): obz man | man -l -
   help      this text; obz help CMD for one command

EXAMPLES:
   obz read testdata/orders.csv | obz filter '.amount > 50' | obz write big.ndjson
   obz read testdata/orders.ndjson | obz map '{id, country}' | obz head -n 5 -r
   obz flow testdata/flows/orders.toml

EXIT STATUS:
` + exitstatus.Help + `

Docs: README.md, docs/wire.md (the protocol), docs/topology.md (flows), docs/journal.md (journals).
`)
	return strings.ReplaceAll(b.String(), "{{", `{{"{{"}}`)
}
