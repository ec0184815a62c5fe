package replay

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// Options say which recorded run to replay and how (obz replay RUN_DIR).
type Options struct {
	// RunDir is the run directory of the recorded run.
	RunDir string
	// Topology is a topology file to run instead of the recorded one (to
	// test a change against the recording); "": the recorded topology.
	Topology string
	// Verify refuses a recording that is no baseline (no journals, not
	// complete), for Replayed.Verify.
	Verify bool
	// RunSinks runs every stage as recorded, effects outside the run
	// included; otherwise sinks are discarded and other files redirected.
	RunSinks bool
	// Base is where the replay's run directory goes; "": RunDir/replays.
	Base string
	// Commands are the stages a topology may run (flow.Parse).
	Commands flow.Commands
	// Stages tells what a stage's command line does beyond its output.
	Stages Lookup
	// Start runs the flow; nil: flow.Run. Tests give their own.
	Start func(context.Context, *flow.Topology, flow.Options) (*flow.Result, error)
}

// Replay is a replay planned by Prepare: the topology to run, with each
// source replaced by a replay of its journal (no external input is read),
// each fan-in given its recorded merge order, and effects outside the run
// silenced (runner.Effects.Replay).
type Replay struct {
	Recorded *flow.Result
	Topology *flow.Topology
	// Notes are what the caller should tell the user before the run: the
	// stages that run with their effects, and where redirected files go.
	Notes []string

	opts      Options
	base      string
	recorded  map[string]*flow.StageResult
	discarded map[string]bool // sinks run as NAME -: not compared
	published []string        // publishing bridges of a host's part (also discarded)
	ordered   map[string]bool // fan-ins given their recorded merge order
	redirects []redirect
}

// redirect is a file a stage writes outside the run, written under the
// replay's run directory instead.
type redirect struct {
	stage *flow.Stage
	arg   int    // the index in stage.Argv of the file name
	name  string // its name under effects/
	eq    string // "--flag=" when the name is given as --flag=FILE
}

// effectsDir is where redirected files go, under the replay's run directory.
const effectsDir = "effects"

// mergeOrderFlag is the runner's option that makes a fan-in consume its
// inputs in a recorded order (runner.Env.MergeOrder).
const mergeOrderFlag = "--merge-order"

// Prepare reads the recorded run in o.RunDir and plans its replay. It
// refuses (*RefusedError) a run without a manifest, a source that was not
// recorded with a journal, and with o.Verify a recording that is no
// baseline; an invalid topology is a *TopologyError.
func Prepare(o Options) (*Replay, error) {
	rec, err := readManifest(o.RunDir)
	if err != nil {
		return nil, err
	}
	p := &Replay{Recorded: rec, opts: o, recorded: map[string]*flow.StageResult{}, discarded: map[string]bool{}}
	for _, s := range rec.Stages {
		p.recorded[s.Name] = s
	}

	// The topology: the recorded one, or a new one to test a change.
	var t *flow.Topology
	if o.Topology != "" {
		t, err = flow.Load(o.Topology, o.Commands)
	} else {
		t, err = flow.Parse(cmp(rec.File, "recorded topology"), []byte(rec.Topology), o.Commands)
	}
	if err == nil && rec.Host != "" {
		// Host rec.Host's part of a flow over several hosts: its stages,
		// and the bridges to the other hosts.
		t, err = t.Part(rec.Host, rec.RunID, nil)
	}
	if err != nil {
		return nil, topologyError(err)
	}
	p.Topology = t

	if o.Verify {
		if err := checkBaseline(rec, t); err != nil {
			return nil, err
		}
	}
	for _, s := range t.Stages {
		if s.Bridge() == "pub" {
			// What it published is in the stream (or read and gone):
			// the replay drains and checks its input, publishing nothing.
			p.discarded[s.Name] = true
			p.published = append(p.published, s.Name)
			s.ReplaceBridge([]string{"write", "-"})
			continue
		}
		if len(s.AllInputs()) == 0 {
			r := p.recorded[s.Name]
			if s.Bridge() == "sub" && (r == nil || r.Journal == "") {
				return nil, refused(fmt.Sprintf("bridge %q (obz nats sub) has no journal in the recorded run %s: host %q's input from the other hosts was not recorded (a run of an older obz), so its part cannot be replayed", s.Name, o.RunDir, rec.Host))
			}
			if r == nil || r.Journal == "" {
				return nil, refused(fmt.Sprintf("source %q is not in the recorded run %s with a journal: a source can only be replayed from its journal (stages recorded: %s)", s.Name, o.RunDir, recordedNames(rec)))
			}
			j, err := filepath.Abs(filepath.Join(o.RunDir, r.Journal))
			if err != nil {
				return nil, err
			}
			if err := checkSourceFiles(s.Name, j, "replayed"); err != nil {
				return nil, err
			}
			// A reading bridge replays the frames it passed on, as
			// recorded on this host.
			s.ReplaceBridge([]string{"replay", j})
			continue
		}
		if !o.RunSinks {
			p.silence(s, lookup(o.Stages, s.Argv))
		}
	}
	if p.ordered, err = mergeOrders(t, o.RunDir, p.recorded); err != nil {
		return nil, err
	}
	p.base = o.Base
	if p.base == "" {
		p.base = filepath.Join(o.RunDir, "replays")
	}
	return p, nil
}

// silence keeps s's effects outside the run from happening again, as its
// traits say.
func (p *Replay) silence(s *flow.Stage, st Stage) {
	tr := st.Traits
	switch tr.Replay {
	case runner.ReplayDiscard:
		// The sink's input is drained and checked, and what it writes goes
		// to the replay's stdout, which is discarded.
		p.discarded[s.Name] = true
		s.Argv = []string{s.Argv[0], "-"}
		return
	case runner.ReplayRedirect:
		argv := slices.Clone(st.Argv)
		var rs []redirect
		for _, e := range tr.Outside {
			if e.Kind != runner.EffectFile {
				continue
			}
			i, eq := effectArg(argv, e)
			if i < 0 {
				rs = nil
				break
			}
			rs = append(rs, redirect{arg: i, eq: eq, name: s.Name + "-" + filepath.Base(e.Target)})
		}
		if len(rs) > 0 {
			s.Argv = argv
			for _, r := range rs {
				r.stage = s
				p.redirects = append(p.redirects, r)
				p.Notes = append(p.Notes, fmt.Sprintf("stage %q: what it writes to %s goes to the replay's run directory (%s) instead", s.Name, effectTarget(argv, r), filepath.Join(effectsDir, r.name)))
			}
			return
		}
	}
	for _, e := range tr.Outside {
		what := "writes " + e.Target
		if e.Kind == runner.EffectProgram {
			what = "runs the program " + e.Target
		}
		p.Notes = append(p.Notes, fmt.Sprintf("stage %q %s: the replay runs it again as recorded, with its effects outside the run", s.Name, what))
	}
}

// effectArg finds where argv (options first, then "--" and the arguments)
// names e's target: the index of the element, and "--flag=" when the
// element is --flag=FILE. -1 if it does not.
func effectArg(argv []string, e runner.Effect) (int, string) {
	dash := slices.Index(argv, "--")
	if e.Flag == "" {
		if dash < 0 || dash+1+e.Arg >= len(argv) {
			return -1, ""
		}
		return dash + 1 + e.Arg, ""
	}
	end := len(argv)
	if dash >= 0 {
		end = dash
	}
	for i := 1; i < end; i++ {
		name, _, hasEq := strings.Cut(strings.TrimLeft(argv[i], "-"), "=")
		if name != e.Flag {
			continue
		}
		if hasEq {
			return i, argv[i][:strings.IndexByte(argv[i], '=')+1]
		}
		if i+1 < end {
			return i + 1, ""
		}
	}
	return -1, ""
}

func effectTarget(argv []string, r redirect) string {
	return strings.TrimPrefix(argv[r.arg], r.eq)
}

// Run runs the planned replay. fo gives the binary, the version and where
// stderr goes; the run directory and stdout (discarded) are the replay's.
func (p *Replay) Run(ctx context.Context, fo flow.Options) (*Replayed, error) {
	start := p.opts.Start
	if start == nil {
		start = flow.Run
	}
	fo.RunDir, fo.Stdout = p.base, io.Discard
	var effects string
	if len(p.redirects) > 0 {
		// The replay's run directory is made by the run: the files go to
		// a directory beside it, moved into it when the run has ended.
		if err := os.MkdirAll(p.base, 0o755); err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp(p.base, "."+effectsDir+"-")
		if err != nil {
			return nil, err
		}
		if effects, err = filepath.Abs(dir); err != nil {
			return nil, err
		}
		for _, r := range p.redirects {
			r.stage.Argv[r.arg] = r.eq + filepath.Join(effects, r.name)
		}
	}
	res, err := start(ctx, p.Topology, fo)
	if err != nil {
		if effects != "" {
			os.RemoveAll(effects)
		}
		return nil, err
	}
	if effects != "" {
		if err := os.Rename(effects, filepath.Join(res.RunDir, effectsDir)); err != nil {
			return nil, fmt.Errorf("moving the redirected files of the replay: %w (they are in %s)", err, effects)
		}
	}
	return &Replayed{Result: res, plan: p}, nil
}

// Replayed is a replay that ran.
type Replayed struct {
	// Result is the replay's run (its run directory, how each stage ended).
	Result *flow.Result
	plan   *Replay
}

// mergeOrders makes each fan-in stage whose recorded journal holds its
// merge order (order frames) consume its inputs in that order again
// (--merge-order), so that its output can be compared position by
// position. It returns the stages it did that for.
func mergeOrders(t *flow.Topology, runDir string, recorded map[string]*flow.StageResult) (map[string]bool, error) {
	ordered := map[string]bool{}
	for _, s := range t.Stages {
		r := recorded[s.Name]
		if len(s.Inputs) < 2 || r == nil || r.Journal == "" {
			continue
		}
		j, err := filepath.Abs(filepath.Join(runDir, r.Journal))
		if err != nil {
			return nil, err
		}
		if !hasOrderFrames(j) {
			continue // recorded before merge orders were, or nothing merged
		}
		// Runner flags go before the stage's own arguments.
		s.Argv = append([]string{s.Argv[0], mergeOrderFlag, j}, s.Argv[1:]...)
		ordered[s.Name] = true
	}
	return ordered, nil
}

// hasOrderFrames reports whether the journal at path holds an order frame
// (the first one comes with the journal's first batch).
func hasOrderFrames(path string) bool {
	r, err := journal.Open(path, &journal.ReaderOptions{NoPayloads: true})
	if err != nil {
		return false
	}
	defer r.Close()
	var f wire.Frame
	for r.Next(&f) == nil {
		if f.Kind == wire.KindOrder {
			return true
		}
	}
	return false
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkSourceFiles refuses a source whose journal refers to files (it
// recorded them by reference) that are gone or changed since the run,
// naming the file: checked before anything runs, the SHA-256 of each
// file the source read to its end included. A journal that cannot be
// read is left to the stage that reads it to report.
func checkSourceFiles(stage, path, what string) error {
	files, err := journal.FileSums(path)
	if err != nil {
		return nil
	}
	for _, f := range files {
		if err := f.Check(true); err != nil {
			return refused(fmt.Sprintf("source %q cannot be %s from its journal %s: %v", stage, what, path, err))
		}
	}
	return nil
}

// checkBaseline refuses a recorded run that cannot serve as a baseline for
// verify: one without journals, or that did not complete. A publishing
// bridge of a host's part (in t) has no journal of its own: its input is
// its producer's.
func checkBaseline(rec *flow.Result, t *flow.Topology) error {
	for _, s := range rec.Stages {
		if st := t.Lookup(s.Name); st != nil && st.Bridge() == "pub" {
			continue
		}
		if s.Journal == "" {
			return refused(fmt.Sprintf("the recorded run has no journal for stage %q (was it run with --no-journal?)", s.Name))
		}
	}
	var bad []string
	for _, s := range rec.Stages {
		if s.State != flow.StateDone {
			bad = append(bad, fmt.Sprintf("%s: %s", s.Name, s.State))
		}
	}
	if rec.Ended.IsZero() {
		bad = append(bad, "the supervisor did not finish (no end time)")
	}
	if len(bad) > 0 {
		return refused("the recorded run did not complete, so it is no baseline to verify against (" + strings.Join(bad, "; ") + ")")
	}
	return nil
}
