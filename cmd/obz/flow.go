package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/stages"
	"github.com/urfave/cli/v2"
)

// flowFailedError: a stage of the flow failed (exit 1).
type flowFailedError struct{ stage string }

func (e *flowFailedError) Error() string { return "stage " + e.stage + " failed" }

// errFlowErrorEvents: the flow finished but a sink reported error events (exit 4).
var errFlowErrorEvents = errors.New("finished, but some events went to the error lane (see the sinks' reports above)")

const flowHelp = `NAME:
   obz flow - run a topology of stages as supervised processes

USAGE:
   obz flow [options] TOPOLOGY.toml

DESCRIPTION:
   Starts every stage of the topology as its own obz process, connected by
   pipes (fan-out: one stage feeding several; fan-in: several feeding one),
   and supervises the run. Every edge is checked by the stage that reads it:
   no event lost, no upstream crash passed off as a clean end. When a stage
   fails, obz flow names it, shows the last lines of its stderr, stops the
   sources and lets the rest drain. Ctrl-C or SIGTERM drains the same way;
   after --drain-timeout what still runs is killed. Stages run in their own
   process groups and die with obz flow: no orphans.

   Each run gets a directory (.obz/runs/FLOW-TIMESTAMP/ by default) with
   manifest.json (topology, obz version, per-stage command, exit status,
   counts, start and end), logs/STAGE.log (each stage's stderr) and
   journals/STAGE.zst (each stage's output frames, for obz replay, obz diff
   and obz journal; --no-journal turns them off).
   The topology format is described in docs/topology.md.

   Relative paths in the topology start at its own directory (or at its
   dir key): every stage runs there, so obz flow path/to/flow.toml works
   from any directory. The run directory is the exception: .obz/runs under
   the current directory, unless run_dir (relative to the flow) or
   --run-dir (relative to here) says otherwise.

   --resume RUN_DIR continues a run that was killed (kill -9 of obz flow or
   of a stage) in a new run directory beside it: sources re-produce what
   they had journaled (checked against the journal) and go on, the other
   stages run again from the start, and sinks skip what their receipts show
   delivered (write --append cuts its file back to where the run began and
   appends again), so the output is that of an uninterrupted run. A stage
   that journaled nothing starts from the beginning. See docs/journal.md
   (Resume).

   A topology may place its stages on hosts (host = "NAME" per stage; see
   docs/topology.md, Hosts). --host NAME --run-id ID runs only that host's
   part; every host runs the same file with the same run id. Edges within
   the host are pipes; an edge to or from another host is the JetStream
   subject obz.FLOW.RUN.PRODUCER.CONSUMER, carried by two bridge processes
   named nats.PRODUCER.CONSUMER: obz nats pub on the producer's host, obz
   nats sub on the consumer's, on the server of --nats-url (docs/nats.md).
   The edge contract holds across: an upstream that fails or dies on one
   host fails the flow on the other, naming the bridge and the subject.
   Each host keeps its own run directory; obz replay (--verify) replays a
   host's part from it. When a host's obz flow itself dies (kill -9), the
   other hosts wait for it: --resume RUN_DIR on that host continues its
   part (the reading bridges pass on again what they journaled and read on
   after it; the producers publish again, the server dropping what it has
   stored). Without --host the whole flow runs here, on pipes.

EXAMPLES:
   obz flow testdata/flows/orders.toml
   obz flow --check testdata/flows/orders.toml
   obz flow --dot testdata/flows/orders.toml | dot -Tsvg > flow.svg
   obz flow --mermaid testdata/flows/orders.toml
   obz flow testdata/flows/big.toml & sleep 1; kill -9 $!   # a run killed half-way
   obz flow --resume $(ls -d .obz/runs/big-* | tail -n 1)   # ... continued to its end
   obz flow --check --host a testdata/flows/hosts.toml   # host a's part: its stages, and its edges to b over NATS
   obz nats serve --port -1 --dir .obz/nats-try -- sh -c 'id=$(date +%s%N); obz flow --host b --run-id $id testdata/flows/hosts.toml & obz flow --host a --run-id $id testdata/flows/hosts.toml && wait $!'

OPTIONS:
{{range .VisibleFlags}}   {{.}}
{{end}}
EXIT STATUS:
   0    every stage finished
   1    a stage failed or an edge broke (the first failure is reported)
   2    the topology is invalid, or a stage's flags, arguments or expressions
        are (every problem is listed with file and line; nothing is started)
   3    --resume refused: nothing to resume, no manifest or journals, the
        topology file changed, a sink that cannot skip what it delivered,
        or one that wrote to stdout results that depended on how the run
        ended (partial aggregates of a stopped run)
   4    finished, but some events went to the error lane and ended in a sink
        (every branch ran to its end: dead letters are not a failure)
   130  stopped by SIGINT (Ctrl-C) after a graceful drain; 143 for SIGTERM
`

func flowCommand(reg stages.Registry, cmdName *string, runErr *error) *cli.Command {
	return &cli.Command{
		Name:               "flow",
		Usage:              "run a topology of stages (a DAG) as supervised processes",
		ArgsUsage:          "TOPOLOGY.toml",
		Category:           "flows",
		CustomHelpTemplate: flowHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "check", Usage: "validate the topology and exit"},
			&cli.BoolFlag{Name: "dot", Usage: "print the graph in Graphviz dot format and exit"},
			&cli.BoolFlag{Name: "mermaid", Usage: "print the graph as a Mermaid flowchart (for Markdown) and exit"},
			&cli.StringFlag{Name: "run-dir", Usage: "base directory for run directories (default: the topology's run_dir, else .obz/runs here)"},
			&cli.StringFlag{Name: "metrics-addr", Usage: "serve Prometheus metrics on this address (e.g. :9090 or 127.0.0.1:0); overrides metrics_addr"},
			&cli.DurationFlag{Name: "drain-timeout", Value: 10 * time.Second, Usage: "after a failure or a stop signal, how long stages may drain before they are killed"},
			&cli.DurationFlag{Name: "stall-after", Value: flow.DefaultStallAfter, Usage: "report a running stage that makes no progress for this long as stalled (it has input) or backpressured (blocked writing): a message, the live view, metrics and events.ndjson; never a failure; 0 turns it off"},
			&cli.BoolFlag{Name: "no-journal", Usage: "do not journal the stages' output (RUN_DIR/journals/STAGE.zst, for obz replay)"},
			&cli.StringFlag{Name: "journal-sources", Usage: "how sources journal the lines of the regular NDJSON files they read: ref (the stages' default: by reference to the file, which a replay then needs unchanged) or copy (the bytes, for input files that will not last); a stage's run may set its own"},
			&cli.StringFlag{Name: "journal-codec", Usage: "how every stage's journal compresses its blocks: s2 (the stages' default: less CPU) or zstd (smaller journals, which zstd -d also reads); a stage's run may set its own"},
			&cli.BoolFlag{Name: "resume", Usage: "continue the killed run in RUN_DIR, the argument (obz flow --resume RUN_DIR; see docs/journal.md, Resume)"},
			&cli.BoolFlag{Name: "force", Usage: "--resume: resume although the topology file changed, or a sink's output may get events twice"},
			&cli.StringFlag{Name: "host", Usage: "run only the stages placed on host `NAME` (host = \"NAME\"); edges to and from other hosts go over NATS JetStream (needs --run-id)"},
			&cli.StringFlag{Name: "run-id", Usage: "with --host: the run's `ID`, the same on every host (letters, digits, _ and -): it names the run's subjects"},
			&cli.StringFlag{Name: "nats-url", EnvVars: []string{"NATS_URL"}, Usage: "with --host: NATS server `URL`s, comma separated (default nats://127.0.0.1:4222)"},
			&cli.StringFlag{Name: "nats-creds", EnvVars: []string{"NATS_CREDS"}, Usage: "with --host: NATS user credentials `FILE`"},
			&cli.StringFlag{Name: "nats-tlsca", EnvVars: []string{"NATS_CA"}, Usage: "with --host: TLS certificate authority `FILE` to verify the NATS server with"},
			&cli.StringFlag{Name: "nats-context", EnvVars: []string{"NATS_CONTEXT"}, Usage: "with --host: a nats CLI context `NAME`"},
		},
		OnUsageError: onUsageError(cmdName, "flow"),
		Action: func(c *cli.Context) error {
			*cmdName = "flow"
			*runErr = runFlow(c, reg)
			return nil
		},
	}
}

func flowCommands(reg stages.Registry) flow.Commands {
	cmds := flow.Commands{}
	for _, s := range reg {
		cmds[s.Name] = string(s.Family)
	}
	return cmds
}

func runFlow(c *cli.Context, reg stages.Registry) error {
	if c.Bool("resume") {
		if c.String("host") != "" {
			return &usageError{msg: "--resume RUN_DIR takes no --host: the run directory of a host's part names its host and run id"}
		}
		return resumeFlow(c, reg)
	}
	if c.NArg() != 1 {
		return &usageError{msg: "flow takes one topology file, e.g. obz flow testdata/flows/orders.toml"}
	}
	// Drawing the graph needs the graph only; a run and --check need every
	// stage's command line to be right too.
	var check flow.StageCheck
	if !c.Bool("dot") && !c.Bool("mermaid") {
		check = stageChecker(reg)
	}
	t, err := flow.LoadChecked(c.Args().First(), flowCommands(reg), check)
	if err != nil {
		return invalidTopology(err)
	}
	host := c.String("host")
	if host != "" {
		if t, err = hostPart(c, t); err != nil {
			return err
		}
	} else if c.String("run-id") != "" {
		return &usageError{msg: "--run-id is for a host's part of a flow: give --host NAME too"}
	}
	out := c.App.Writer
	switch {
	case c.Bool("dot"):
		writeDot(out, t)
		return nil
	case c.Bool("mermaid"):
		writeMermaid(out, t)
		return nil
	case c.Bool("check"):
		edges, bridges := 0, 0
		for _, s := range t.Stages {
			edges += len(s.AllInputs())
			if s.Bridge() != "" {
				bridges++
			}
		}
		switch {
		case host != "":
			fmt.Fprintf(out, "%s: ok: flow %q, host %q: %d stages, %d edges on pipes, %d over NATS\n", t.File, t.Name, host, len(t.Stages)-bridges, edges-bridges, bridges)
		case len(t.Hosts) > 0:
			fmt.Fprintf(out, "%s: ok: flow %q, %d stages, %d edges, on hosts %s\n", t.File, t.Name, len(t.Stages), edges, strings.Join(t.Hosts, ", "))
		default:
			fmt.Fprintf(out, "%s: ok: flow %q, %d stages, %d edges\n", t.File, t.Name, len(t.Stages), edges)
		}
		return nil
	}
	return superviseFlow(c, reg, t, flow.Options{
		Stdout: out, RunDir: c.String("run-dir"), NoJournal: c.Bool("no-journal"), JournalSources: c.String("journal-sources"),
		JournalCodec: c.String("journal-codec"),
	}, nil)
}

// hostPart returns host's part of t (obz flow --host NAME --run-id ID),
// its bridges connected with the --nats-* flags.
func hostPart(c *cli.Context, t *flow.Topology) (*flow.Topology, error) {
	host, id := c.String("host"), c.String("run-id")
	if len(t.Hosts) > 0 && !slices.Contains(t.Hosts, host) {
		return nil, &usageError{msg: fmt.Sprintf("--host %q: %s has no such host%s; its hosts are %s", host, t.File, didYouMean(host, t.Hosts), strings.Join(t.Hosts, ", "))}
	}
	if id == "" && !c.Bool("check") {
		return nil, &usageError{msg: "--host needs --run-id ID, the same on every host of the run: it names the run's NATS subjects (e.g. --run-id $(date +%Y%m%d-%H%M))"}
	}
	if id == "" {
		id = "check" // --check: the subjects are not used
	}
	if err := flow.CheckRunID(id); err != nil {
		return nil, &usageError{msg: "--run-id: " + err.Error()}
	}
	part, err := t.Part(host, id, natsConnEnv(c))
	if err != nil {
		return nil, &usageError{msg: err.Error()}
	}
	return part, nil
}

// natsConnEnv is the environment of a host's bridges (obz nats pub and
// sub) from the --nats-* flags: they take the connection from it, as the
// nats CLI does, so that a URL's password stays out of the manifest's
// command lines.
func natsConnEnv(c *cli.Context) map[string]string {
	conn := map[string]string{}
	for _, f := range [...]struct{ flag, env string }{{"nats-url", "NATS_URL"}, {"nats-creds", "NATS_CREDS"}, {"nats-tlsca", "NATS_CA"}, {"nats-context", "NATS_CONTEXT"}} {
		if v := c.String(f.flag); v != "" {
			conn[f.env] = v
		}
	}
	return conn
}

func didYouMean(s string, candidates []string) string {
	if best := flow.Closest(s, candidates); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

// superviseFlow runs t under the supervisor with the options every run
// shares (the binary, the version, stderr, the live view on a terminal, the
// drain timeout, metrics, the check of every stage's command line), prints the summary and maps the outcome to an
// error for the exit table. after, if set, sees the result first.
func superviseFlow(c *cli.Context, reg stages.Registry, t *flow.Topology, opts flow.Options, after func(*flow.Result)) error {
	if js := opts.JournalSources; js != "" && js != "ref" && js != "copy" {
		return &usageError{msg: fmt.Sprintf("--journal-sources must be ref or copy, not %q", js)}
	}
	if jc := opts.JournalCodec; jc != "" {
		if _, err := journal.ParseCodec(jc); err != nil {
			return &usageError{msg: "--journal-codec: " + err.Error()}
		}
	}
	exe, err := selfPath()
	if err != nil {
		return err
	}
	opts.Exe, opts.Version, opts.Stderr = exe, version(), c.App.ErrWriter
	if f, ok := c.App.ErrWriter.(*os.File); ok && isTerminal(f) {
		opts.Live = true
	}
	opts.DrainTimeout = c.Duration("drain-timeout")
	if opts.StallAfter = c.Duration("stall-after"); opts.StallAfter <= 0 {
		opts.StallAfter = -1
	}
	opts.MetricsAddr = c.String("metrics-addr")
	opts.Check = stageChecker(reg)
	res, err := flow.Run(c.Context, t, opts)
	var ve *flow.ValidationError
	if errors.As(err, &ve) {
		return invalidTopology(err)
	}
	if err != nil {
		return err
	}
	if after != nil {
		after(res)
	}
	res.Summary(c.App.ErrWriter)
	if t.Retention != nil {
		base := t.RunDir
		if opts.RunDir != "" {
			base = opts.RunDir
		}
		applyRetention(c.App.ErrWriter, base, *t.Retention, res.RunDir)
	}
	var dirErr error
	if res.RunDirErr != nil {
		dirErr = fmt.Errorf("%s is incomplete: %w (its manifest may be stale: the run cannot be resumed or verified)", res.RunDir, res.RunDirErr)
	}
	switch {
	case res.Failed != "":
		if dirErr != nil {
			fmt.Fprintf(c.App.ErrWriter, "obz flow: %v\n", dirErr)
		}
		return &flowFailedError{stage: res.Failed}
	case dirErr != nil:
		return dirErr
	case res.ErrorEvents():
		return errFlowErrorEvents
	}
	return nil
}

// invalidTopology is a topology that does not load or check: a usage
// error (exit 2) listing every problem.
func invalidTopology(err error) error {
	var ve *flow.ValidationError
	if errors.As(err, &ve) {
		return &usageError{msg: "invalid topology:\n  " + strings.Join(ve.Problems, "\n  ")}
	}
	return &usageError{msg: err.Error()}
}

// selfPath finds the obz binary to start stages with: the one running, as
// invoked (so a test harness's "obz" on PATH works), else os.Executable.
func selfPath() (string, error) {
	arg0 := os.Args[0]
	if strings.Contains(arg0, "/") {
		return filepath.Abs(arg0)
	}
	if p, err := exec.LookPath(arg0); err == nil {
		return filepath.Abs(p)
	}
	return os.Executable()
}

func writeDot(w io.Writer, t *flow.Topology) {
	q := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	fmt.Fprintf(w, "digraph %s {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n", q(t.Name))
	for _, s := range t.Stages {
		fmt.Fprintf(w, "  %s [label=%s];\n", q(s.Name), q(s.Name+"\n"+strings.Join(s.Argv, " ")))
	}
	for _, s := range t.Stages {
		for _, in := range s.Inputs {
			fmt.Fprintf(w, "  %s -> %s;\n", q(in), q(s.Name))
		}
		if s.Reference != "" {
			fmt.Fprintf(w, "  %s -> %s [style=dashed, label=\"reference\"];\n", q(s.Reference), q(s.Name))
		}
	}
	fmt.Fprintln(w, "}")
}

func writeMermaid(w io.Writer, t *flow.Topology) {
	label := func(s *flow.Stage) string {
		return strings.NewReplacer(`"`, "#quot;").Replace(s.Name + ": " + strings.Join(s.Argv, " "))
	}
	fmt.Fprintln(w, "flowchart LR")
	for _, s := range t.Stages {
		fmt.Fprintf(w, "  %s[\"%s\"]\n", s.Name, label(s))
	}
	for _, s := range t.Stages {
		for _, in := range s.Inputs {
			fmt.Fprintf(w, "  %s --> %s\n", in, s.Name)
		}
		if s.Reference != "" {
			fmt.Fprintf(w, "  %s -. reference .-> %s\n", s.Reference, s.Name)
		}
	}
}
