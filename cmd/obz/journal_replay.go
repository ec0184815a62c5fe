package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/replay"
	"github.com/obz-dev/obz/stages"
	"github.com/obz-dev/obz/wire"
	"github.com/urfave/cli/v2"
)

const replayHelp = `NAME:
   obz replay - stream a journal's frames to stdout, to feed any stage

USAGE:
   obz replay [options] FILE.zst
   obz replay [--verify] [--topology NEW.toml] [--run-sinks] RUN_DIR
   obz replay [--verify] [--run-sinks] RUN_DIR_HOST_A RUN_DIR_HOST_B...

DESCRIPTION:
   Writes the frames recorded in a journal (obz flow writes one per stage in
   RUN_DIR/journals/; any stage writes one with --journal FILE.zst), so a
   recorded output feeds a stage or a pipeline again. A whole journal is
   replayed byte for byte, its EOF included. A journal without an EOF (its
   writer was killed; see obz journal stat) replays with a truncated EOF, and
   obz replay exits 1.

   With --from-seq or --to-seq the slice is a new stream: its events are
   numbered from 1 (so the next stage's gap check holds), each with the
   recorded event (writer, seq) as its parent, and it ends with a stopped
   EOF (or the recorded one's kind, if worse).

   --speed 1x paces events as they were written (from the write times each
   journal block records; events within a block are spread evenly), 2x twice
   as fast; max (the default) does not wait.

   Given a run directory of obz flow, it re-runs the flow (the recorded
   topology, or --topology NEW.toml): each source is replaced by a replay of
   its journal (no external input is read), every other stage runs again,
   and nothing writes outside the replay's run directory: sinks drain their
   input without writing, a file another stage writes (tee FILE) goes to
   the replay's effects/ directory instead (--run-sinks runs every stage as
   recorded, effects included). A program run by exec cannot be held back:
   it runs again, and the replay says so. The replay's run directory is
   RUN_DIR/replays/FLOW-TIME/.
   With --verify each stage's new journal is compared with the recorded one:
   per stage match, diverged (with the first divergent seq and the fields
   that differ), skipped (sinks) or new. The stages run in the directory
   of the topology file, as under obz flow (docs/topology.md, Paths).

   A run directory of one host's part of a flow over several hosts (obz
   flow --host) replays that part: each edge from another host replays
   what its reading bridge (obz nats sub) journaled, each edge to another
   host publishes nothing (no NATS server is needed), and every other stage
   runs again. Given the run directories of several hosts of one run, it
   replays each, and with --verify it then compares each edge between two
   of them, frame by frame: what the producer journaled on its host
   against what was read on the consumer's.

EXAMPLES:
   obz read testdata/orders.csv --infer --journal orders.zst > /dev/null   # a journal to try
   obz replay orders.zst --from-seq 10 --to-seq 19 | obz head -n 5 -r
   obz replay orders.zst --speed 100x | obz map '{id}' -r
   obz flow testdata/flows/orders.toml                 # a recorded run, in .obz/runs/orders-TIME
   obz replay $(ls -d .obz/runs/orders-* | tail -n 1)/journals/orders.zst | obz filter '.amount > 50' -r
   obz nats serve --port -1 --dir .obz/nats-try -- sh -c 'obz flow --host b --run-id v1 --run-dir .obz/hosts-b testdata/flows/hosts.toml & obz flow --host a --run-id v1 --run-dir .obz/hosts-a testdata/flows/hosts.toml && wait $!'
   obz replay --verify $(ls -d .obz/hosts-a/orders_hosts-* | tail -n 1) $(ls -d .obz/hosts-b/orders_hosts-* | tail -n 1)   # each host's part, then the edges from a to b
   sed 's/> 50/> 60/' testdata/flows/orders.toml > orders-new.toml
   obz replay $(ls -d .obz/runs/orders-* | tail -n 1) --verify --topology orders-new.toml   # exit 1: big diverges

OPTIONS:
{{range .VisibleFlags}}   {{.}}
{{end}}
EXIT STATUS:
   0    the journal was replayed, its EOF included; RUN_DIR: every stage matched
        (and every edge between the hosts given)
   1    the journal is torn or corrupt, or has no EOF: what was good was
        replayed, then a truncated EOF; RUN_DIR: a stage or an edge between
        hosts diverged, or a stage failed
   2    usage error
   3    RUN_DIR: refused: not a run directory, a manifest of a newer schema
        version, a run without journals, an incomplete run (--verify), a
        source that was not recorded; RUN_DIRs that are not the hosts' parts
        of one run
   130  stopped by SIGINT (a stopped EOF was written); 143 for SIGTERM
`

func replayCommand(cmdName *string, runErr *error) *cli.Command {
	return &cli.Command{
		Name:               "replay",
		Usage:              "stream a journal's frames to stdout, to feed any stage",
		ArgsUsage:          "FILE.zst",
		Category:           "journals",
		CustomHelpTemplate: replayHelp,
		Flags: append(append([]cli.Flag{}, seqFlags...),
			&cli.BoolFlag{Name: "raw", Aliases: []string{"r"}, Usage: "write data payloads only (bare NDJSON, no EOF)"},
			&cli.StringFlag{Name: "speed", Value: "max", Usage: "max, or a multiple of the recorded pace: 1x, 2x, 0.5x"},
			&cli.BoolFlag{Name: "verify", Usage: "RUN_DIR: compare each stage's new output with its recorded journal"},
			&cli.StringFlag{Name: "topology", Usage: "RUN_DIR: run this topology instead of the recorded one (e.g. with a changed transform)"},
			&cli.BoolFlag{Name: "run-sinks", Usage: "RUN_DIR: run the sinks and every stage that writes outside the run as recorded (they write their outputs again)"},
			&cli.StringFlag{Name: "run-dir", Usage: "RUN_DIR: base directory of the replay's run directory (default RUN_DIR/replays)"},
			// Set by obz flow when a replay stands in for a source.
			&cli.StringFlag{Name: "journal", Usage: "also journal what is replayed to this file", Hidden: true},
			&cli.StringFlag{Name: "name", Hidden: true},
			&cli.StringFlag{Name: "on-error", Hidden: true},
			&cli.IntSliceFlag{Name: "out-fd", Hidden: true},
			&cli.IntFlag{Name: "status-fd", Hidden: true},
		),
		OnUsageError: onUsageError(cmdName, "replay"),
		Action: func(c *cli.Context) error {
			*cmdName = "replay"
			*runErr = runReplay(c)
			return nil
		},
	}
}

func parseSpeed(s string) (float64, error) {
	if s == "max" {
		return 0, nil
	}
	var x float64
	if _, err := fmt.Sscanf(strings.TrimSuffix(s, "x"), "%g", &x); err != nil || x <= 0 || !strings.HasSuffix(s, "x") {
		return 0, &usageError{msg: fmt.Sprintf("--speed must be max or a positive multiple like 1x or 2.5x, not %q", s)}
	}
	return x, nil
}

func runReplay(c *cli.Context) error {
	if c.NArg() > 1 {
		return replayHosts(c, c.Args().Slice())
	}
	if c.NArg() != 1 {
		return &usageError{msg: "replay takes one journal file, e.g. obz replay orders.zst"}
	}
	speed, err := parseSpeed(c.String("speed"))
	if err != nil {
		return err
	}
	path := c.Args().First()
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return replayRun(c, path)
	}
	if c.Bool("verify") || c.IsSet("topology") || c.Bool("run-sinks") {
		return &refusedError{msg: path + " is not a run directory: --verify, --topology and --run-sinks replay a run of obz flow (obz replay RUN_DIR --verify)"}
	}
	r, err := openJournal(path)
	if err != nil {
		return err
	}
	defer r.Close()
	out, finish, err := replayOutputs(c)
	if err != nil {
		return err
	}
	res, err := replay.Stream(c.Context, r, out, replay.StreamOptions{
		Path: path, From: c.Uint64("from-seq"), To: c.Uint64("to-seq"), Raw: c.Bool("raw"), Speed: speed,
	})
	if res.ErrorEvents > 0 {
		fmt.Fprintf(c.App.ErrWriter, "obz replay: %d error events not written (-r writes data payloads)\n", res.ErrorEvents)
	}
	return finish(err, res.Events)
}

// replayRun re-runs a recorded flow (obz replay RUN_DIR): its sources are
// replaced by replays of their journals, every other stage runs again, and
// with --verify each stage's new journal is compared with the recorded one.
func replayRun(c *cli.Context, runDir string) error {
	reg := stages.All()
	verify := c.Bool("verify")
	p, err := replay.Prepare(replay.Options{
		RunDir: runDir, Topology: c.String("topology"), Verify: verify, RunSinks: c.Bool("run-sinks"),
		Base: c.String("run-dir"), Commands: flowCommands(reg), Stages: stageLookup(reg, c.App),
	})
	if err != nil {
		return replayError(err)
	}
	for _, n := range p.Notes {
		fmt.Fprintf(c.App.ErrWriter, "obz replay: %s\n", n)
	}
	exe, err := selfPath()
	if err != nil {
		return err
	}
	r, err := p.Run(c.Context, flow.Options{Exe: exe, Version: version(), Stderr: c.App.ErrWriter, Check: stageChecker(reg)})
	if ve := (*flow.ValidationError)(nil); errors.As(err, &ve) {
		return invalidTopology(err) // --topology with a stage obz cannot run
	}
	if err != nil {
		return err
	}
	res := r.Result
	res.Summary(c.App.ErrWriter)
	if res.RunDirErr != nil {
		return fmt.Errorf("%s is incomplete: %w (the replay cannot be verified again)", res.RunDir, res.RunDirErr)
	}
	if !verify {
		if res.Failed != "" {
			return &flowFailedError{stage: res.Failed}
		}
		return nil
	}
	v, err := r.Verify()
	if err != nil {
		return err
	}
	v.Print(c.App.Writer)
	if err := v.Save(); err != nil {
		return fmt.Errorf("keeping the verdict beside the replay: %w", err)
	}
	switch {
	case v.Diverged > 0:
		return replay.ErrDiverged
	case res.Failed != "":
		return &flowFailedError{stage: res.Failed}
	}
	return nil
}

// replayHosts replays the run directories of several hosts' parts of one
// run (obz replay [--verify] RUN_DIR...), one after the other; with
// --verify it then compares each edge between two of those hosts: what
// the producer journaled on its host against what the reading bridge
// journaled on the consumer's.
func replayHosts(c *cli.Context, dirs []string) error {
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return &usageError{msg: fmt.Sprintf("%s is not a run directory: several arguments are the run directories of one run's hosts (obz replay --verify RUN_DIR_A RUN_DIR_B)", d)}
		}
	}
	if c.IsSet("topology") {
		return &usageError{msg: "--topology replays one run directory"}
	}
	edges, err := replay.CheckEdges(dirs, flowCommands(stages.All()))
	if err != nil {
		return replayError(err)
	}
	var first error
	for _, d := range dirs {
		err := replayRun(c, d)
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "obz replay: %s: %v\n", d, err)
			if first == nil || errors.Is(err, replay.ErrDiverged) {
				first = err
			}
		}
	}
	if !c.Bool("verify") {
		return first
	}
	edges.Print(c.App.Writer)
	if edges.Diverged > 0 {
		return replay.ErrDiverged
	}
	return first
}

// replayOutputs is where a replay writes: stdout, or under obz flow the
// --out-fd pipes (fan-out), the --journal tee and the --status-fd channel.
// finish closes them and returns the replay's result.
func replayOutputs(c *cli.Context) (io.Writer, func(error, uint64) error, error) {
	fo := &fanout{}
	for _, fd := range c.IntSlice("out-fd") {
		f := os.NewFile(uintptr(fd), "fd "+strconv.Itoa(fd))
		if f == nil {
			return nil, nil, &usageError{msg: fmt.Sprintf("--out-fd %d is not an open file descriptor", fd)}
		}
		fo.outs = append(fo.outs, f)
	}
	if len(fo.outs) == 0 {
		fo.outs = []io.Writer{c.App.Writer}
	}
	var status *os.File
	if fd := c.Int("status-fd"); fd > 0 {
		if status = os.NewFile(uintptr(fd), "status"); status == nil {
			return nil, nil, &usageError{msg: fmt.Sprintf("--status-fd %d is not an open file descriptor", fd)}
		}
	}
	if p := c.String("journal"); p != "" {
		jw, err := journal.Create(p, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("--journal: %w", err)
		}
		fo.journal = jw
	}
	start := time.Now()
	name := c.String("name")
	if name == "" {
		name = "replay"
	}
	finish := func(err error, events uint64) error {
		if fo.journal != nil {
			if cerr := fo.journal.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("journal: %w", cerr)
			}
		}
		for _, o := range fo.all {
			if f, ok := o.(*os.File); ok && f != os.Stdout {
				f.Close()
			}
		}
		if status != nil {
			st := wire.Status{Stage: name, State: "done", Out: events, BytesOut: fo.bytes, Elapsed: time.Since(start).Seconds()}
			if err != nil {
				st.State, st.Error = "failed", err.Error()
			}
			json.NewEncoder(status).Encode(st)
			status.Close()
		}
		return err
	}
	fo.all = slices.Clone(fo.outs)
	return fo, finish, nil
}

// fanout writes a replay to every output (dropping a consumer that went
// away, as the stage runner does) and to the journal first.
type fanout struct {
	outs, all []io.Writer
	journal   *journal.Writer
	bytes     uint64
}

func (f *fanout) Write(p []byte) (int, error) {
	if f.journal != nil {
		if _, err := f.journal.Write(p); err != nil {
			return 0, fmt.Errorf("journal: %w", err)
		}
	}
	for i := 0; i < len(f.outs); i++ {
		if _, err := f.outs[i].Write(p); err != nil {
			if !errors.Is(err, syscall.EPIPE) {
				return 0, err
			}
			f.outs = append(f.outs[:i], f.outs[i+1:]...)
			i--
		}
	}
	if len(f.outs) == 0 {
		return 0, syscall.EPIPE
	}
	f.bytes += uint64(len(p))
	return len(p), nil
}
