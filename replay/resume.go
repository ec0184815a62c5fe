package replay

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// ResumeOptions say which run to resume and how.
type ResumeOptions struct {
	// RunDir is the run directory of the killed run.
	RunDir string
	// Force resumes although the topology file changed, a stage may still
	// run, the run was resumed already, or a sink may deliver events twice.
	Force bool
	// Commands are the stages a topology may run (flow.Parse).
	Commands flow.Commands
	// Stages tells what a stage's command line does beyond its output.
	Stages Lookup
	// Conn is the environment of the bridges of a host's part (the NATS
	// connection, flow.Topology.Part).
	Conn map[string]string
}

// Resume is a resume planned by PlanResume: the run's recorded topology,
// with each source told to re-produce and check what it journaled
// (--resume-from JOURNAL) and each sink told what it delivered (its
// SkipFlag, WRITER:SEQ per writer).
type Resume struct {
	Recorded *flow.Result
	Topology *flow.Topology
	// From is the killed run's directory, absolute (flow.Options.ResumedFrom).
	From string
	// Notes are what the caller should tell the user before the run.
	Notes []string

	marker string
}

// resumeFromFlag is the runner's option that makes a source check its
// output against the journal of the run it resumes (runner.Env.Resume).
const resumeFromFlag = "--resume-from"

// PlanResume reads the killed run in o.RunDir and plans its resume
// (docs/journal.md, Resume). It refuses (*RefusedError) a run that
// finished, may still be running, has no journals, was resumed already, or
// whose topology file changed; and one with a sink that cannot skip what it
// delivered, or that delivered in place and was killed mid-write (unless
// o.Force).
func PlanResume(o ResumeOptions) (*Resume, error) {
	rec, err := readManifest(o.RunDir)
	if err != nil {
		return nil, err
	}
	t, err := resumeTopology(rec, o.Commands, o.Force)
	if err != nil {
		return nil, err
	}
	if rec.Host != "" {
		// Host rec.Host's part of run rec.RunID: the same subjects, the
		// same durable consumers; the other hosts' parts run on.
		if t, err = t.Part(rec.Host, rec.RunID, o.Conn); err != nil {
			return nil, topologyError(err)
		}
	}
	if err := checkResumable(rec, t, o.RunDir, o.Force); err != nil {
		return nil, err
	}
	// A run is resumed once: a second resume of it would not know what the
	// first one delivered. Resume the run that continued it instead.
	marker := filepath.Join(o.RunDir, "resumed")
	if b, err := os.ReadFile(marker); err == nil && !o.Force {
		return nil, refused(fmt.Sprintf("the run was resumed already (%s): resume that run instead, if it did not finish (--force resumes this one again)", strings.TrimSpace(string(b))))
	}
	p := &Resume{Recorded: rec, Topology: t, marker: marker}
	recorded := map[string]*flow.StageResult{}
	for _, s := range rec.Stages {
		recorded[s.Name] = s
	}
	// journals are the stages' journals that exist: a stage killed before
	// it made one (an early kill) journaled nothing, and starts over.
	journals := map[string]string{}
	for _, s := range t.Stages {
		if r := recorded[s.Name]; r != nil {
			j, err := filepath.Abs(filepath.Join(o.RunDir, r.Journal))
			if err != nil {
				return nil, err
			}
			if _, err := os.Stat(j); err == nil {
				journals[s.Name] = j
			}
		}
	}
	if len(journals) == 0 {
		p.Notes = append(p.Notes, "the run journaled nothing (it was killed as it started): it runs again from the beginning")
	}
	ends := &endDependence{topology: t, journals: journals}
	for _, s := range t.Stages {
		r, j := recorded[s.Name], journals[s.Name]
		switch {
		case s.Bridge() == "pub":
			// Its producer re-produces the edge from the start: the
			// server drops the messages it has (Nats-Msg-Id), the reader
			// on the other host what it passed on (writer:seq).
			continue
		case s.Bridge() == "sub" && j == "":
			p.Notes = append(p.Notes, fmt.Sprintf("bridge %q journaled nothing: it reads its subject from where its durable consumer is", s.Name))
			continue
		case s.Bridge() == "sub":
			// It passes on again what it journaled, then reads on after it.
			s.Argv = append(s.Argv, resumeFromFlag, j)
			continue
		}
		if len(s.AllInputs()) == 0 {
			switch {
			case r == nil:
				return nil, refused(fmt.Sprintf("source %q is not in the run %s: a source resumes from its journal (stages recorded: %s)", s.Name, o.RunDir, recordedNames(rec)))
			case j == "":
				if len(journals) > 0 {
					p.Notes = append(p.Notes, fmt.Sprintf("source %q journaled nothing (it was killed as it started): it starts from the beginning", s.Name))
				}
			default:
				if err := checkSourceFiles(s.Name, j, "resumed"); err != nil {
					return nil, err
				}
				s.Argv = slices.Insert(s.Argv, 1, resumeFromFlag, j)
			}
			continue
		}
		st := lookup(o.Stages, s.Argv)
		switch {
		case st.Traits.Delivery != runner.DeliversNothing && j != "":
			args, err := sinkResumeArgs(s, st.Traits, j, ends, o.Force)
			if err != nil {
				return nil, err
			}
			s.Argv = slices.Insert(s.Argv, 1, args...)
		case len(s.Outputs) == 0 && r != nil && r.Status.Out > 0:
			p.Notes = append(p.Notes, fmt.Sprintf("stage %q writes to stdout and is not a sink: it writes its output again from the start", s.Name))
		}
	}
	if p.From, err = filepath.Abs(o.RunDir); err != nil {
		return nil, err
	}
	return p, nil
}

// lookup asks stages about argv; a command line that does not parse is
// taken to deliver in place and to be impossible to silence.
func lookup(stages Lookup, argv []string) Stage {
	st, err := stages(argv)
	if err != nil {
		return Stage{Traits: runner.Traits{Delivery: runner.DeliversInPlace}, Argv: argv}
	}
	return st
}

// Begin marks the killed run as resumed (RUN_DIR/resumed), so that it is
// not resumed twice. Call it just before the resumed run starts.
func (p *Resume) Begin() error {
	return os.WriteFile(p.marker, []byte("resumed by a run started "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// Done names the run that continued the killed one (runDir) in its marker.
func (p *Resume) Done(runDir string) error {
	return os.WriteFile(p.marker, []byte("resumed by "+runDir+"\n"), 0o644)
}

// resumeTopology parses the topology file the run was started with, which
// must still say what the run recorded (unless force).
func resumeTopology(rec *flow.Result, cmds flow.Commands, force bool) (*flow.Topology, error) {
	text, err := os.ReadFile(rec.File)
	if err != nil {
		return nil, refused(fmt.Sprintf("cannot read the run's topology file: %v (run obz flow --resume from the directory the flow was run from)", err))
	}
	if string(text) != rec.Topology && !force {
		return nil, refused(fmt.Sprintf("%s changed since the run: resuming it with another topology would not continue the same flow (--force resumes with the file as it is now)", rec.File))
	}
	t, err := flow.Parse(rec.File, text, cmds)
	if err != nil {
		return nil, topologyError(err)
	}
	return t, nil
}

// checkResumable refuses a run that finished, one that may still be
// running, and one without journals (a publishing bridge of a host's part,
// in t, has none of its own).
func checkResumable(rec *flow.Result, t *flow.Topology, runDir string, force bool) error {
	finished := !rec.Ended.IsZero()
	for _, s := range rec.Stages {
		finished = finished && s.State == flow.StateDone
		if st := t.Lookup(s.Name); st != nil && st.Bridge() == "pub" {
			continue
		}
		if s.Journal == "" {
			return refused(fmt.Sprintf("the run has no journal for stage %q (was it run with --no-journal?): nothing to resume from", s.Name))
		}
		// A journal that does not exist was never made: the stage was
		// killed before it wrote anything, and starts from the beginning.
		if _, err := os.Stat(filepath.Join(runDir, s.Journal)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return refused(fmt.Sprintf("stage %q: %v", s.Name, err))
		}
		if rec.Ended.IsZero() && s.State == flow.StateRunning && flow.ProcessAlive(s.PID) && !force {
			return refused(fmt.Sprintf("stage %q (pid %d) of the run is still running: stop that flow first (--force if the pid is another process now)", s.Name, s.PID))
		}
	}
	if finished {
		return refused(fmt.Sprintf("nothing to resume: the run %s finished, every stage done", runDir))
	}
	return nil
}

// sinkResumeArgs reads a sink's journal of the killed run and says how the
// sink continues. A sink that records where its in-place delivery began
// (runner.RewindRecord beside its journal) cuts its target back there and
// delivers everything again (its RewindFlag): exact whatever the kill cut.
// Otherwise the receipts say which events it delivered, which it skips
// (its SkipFlag), except those that depended on how the run ended (ends):
// their receipts do not count, and a sink that delivered them in place
// cannot take them back, which is refused. So is a sink that was killed
// while it delivered in place (it may have delivered more than its journal
// shows: those events could be written twice), unless force.
func sinkResumeArgs(s *flow.Stage, tr runner.Traits, path string, ends *endDependence, force bool) ([]string, error) {
	if tr.RewindFlag != "" {
		if _, err := os.Stat(runner.RewindRecord(path)); err == nil {
			return []string{"--" + tr.RewindFlag, path}, nil
		}
	}
	r, err := journal.Open(path, nil)
	if err != nil {
		return nil, refused(fmt.Sprintf("sink %q: %v", s.Name, err))
	}
	defer r.Close()
	delivered := map[string]uint64{}
	var dirty []wire.Ref // ok receipts of end-dependent events, in order
	ended := false
	var f wire.Frame
	for {
		err := r.Next(&f)
		if err == io.EOF || errors.Is(err, journal.ErrTorn) {
			break
		}
		if err != nil {
			return nil, refused(fmt.Sprintf("sink %q: its journal: %v", s.Name, err))
		}
		switch {
		case f.Kind == wire.KindReceipt && f.Status == "ok" && f.Writer == s.Name:
			// Only the sink's own receipts: one that came down its
			// input (forged, or of another sink) proves nothing.
			dep, err := ends.dependent(f.Of)
			if err != nil {
				return nil, err
			}
			if dep {
				dirty = append(dirty, f.Of)
				continue
			}
			delivered[f.Of.Writer] = max(delivered[f.Of.Writer], f.Of.Seq)
		case f.Kind == wire.KindEOF:
			ended = true
		}
	}
	if tr.SkipFlag == "" {
		if len(delivered)+len(dirty) > 0 {
			return nil, refused(fmt.Sprintf("sink %q (%s) delivered events, and it cannot skip them on resume", s.Name, s.Command()))
		}
		return nil, nil
	}
	if tr.Delivery == runner.DeliversInPlace {
		if len(dirty) > 0 {
			return nil, refused(fmt.Sprintf("sink %q delivered %d events to %s that depended on how the run ended (%s): an uninterrupted run would not have written them, and they cannot be taken back; run the flow again from the start",
				s.Name, len(dirty), strings.Join(s.Argv, " "), ends.why(dirty[0])))
		}
		if !ended && !force && (len(delivered) > 0 || tr.RewindFlag == "") {
			return nil, refused(fmt.Sprintf("sink %q was killed while it wrote to %s: what it wrote after its last journaled receipt is not known, and resuming could write it twice (--force resumes anyway: at least once)",
				s.Name, strings.Join(s.Argv, " ")))
		}
	}
	var args []string
	for _, w := range slices.Sorted(maps.Keys(delivered)) {
		args = append(args, "--"+tr.SkipFlag, w+":"+strconv.FormatUint(delivered[w], 10))
	}
	return args, nil
}
