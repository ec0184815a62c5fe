package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/obz-dev/obz/flow"
	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/stages"
	"github.com/obz-dev/obz/wire"
	"github.com/urfave/cli/v2"
)

// resumeFlow runs obz flow --resume RUN_DIR (docs/journal.md, Resume): the
// recorded topology again, in a new run directory beside RUN_DIR, with
// each source checked against its journal up to where it was killed and
// each sink told what it had delivered.
func resumeFlow(c *cli.Context, reg stages.Registry, runDir string) error {
	if c.NArg() != 0 {
		return &usageError{msg: "--resume RUN_DIR takes no topology file: the run directory names it"}
	}
	force := c.Bool("force")
	cmds := flowCommands(reg)
	rec, err := readManifest(runDir)
	if err != nil {
		return err
	}
	t, err := resumeTopology(rec, cmds, force)
	if err != nil {
		return err
	}
	if err := checkResumable(rec, runDir, force); err != nil {
		return err
	}
	// A run is resumed once: a second resume of it would not know what the
	// first one delivered. Resume the run that continued it instead.
	marker := filepath.Join(runDir, "resumed")
	if b, err := os.ReadFile(marker); err == nil && !force {
		return &refusedError{msg: fmt.Sprintf("the run was resumed already (%s): resume that run instead, if it did not finish (--force resumes this one again)", strings.TrimSpace(string(b)))}
	}
	recorded := map[string]*flow.StageResult{}
	for _, s := range rec.Stages {
		recorded[s.Name] = s
	}
	for _, s := range t.Stages {
		r := recorded[s.Name]
		var j string
		if r != nil {
			if j, err = filepath.Abs(filepath.Join(runDir, r.Journal)); err != nil {
				return err
			}
		}
		switch {
		case len(s.AllInputs()) == 0:
			if r == nil {
				return &refusedError{msg: fmt.Sprintf("source %q is not in the run %s: a source resumes from its journal (stages recorded: %s)", s.Name, runDir, recordedNames(rec))}
			}
			s.Argv = slices.Insert(s.Argv, 1, "--resume-from", j)
		case cmds[s.Command()] == string(runner.FamilySink) && r != nil:
			args, err := sinkResumeArgs(s, j, c.App, force)
			if err != nil {
				return err
			}
			s.Argv = slices.Insert(s.Argv, 1, args...)
		case len(s.Outputs) == 0 && r != nil && r.Status.Out > 0:
			fmt.Fprintf(c.App.ErrWriter, "obz flow: stage %q writes to stdout and is not a sink: it writes its output again from the start\n", s.Name)
		}
	}

	base := c.String("run-dir")
	if base == "" {
		base = filepath.Dir(filepath.Clean(runDir))
	}
	from, err := filepath.Abs(runDir)
	if err != nil {
		return err
	}
	if err := os.WriteFile(marker, []byte("resumed by a run started "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return err
	}
	return superviseFlow(c, t, flow.Options{Stdout: c.App.Writer, RunDir: base, ResumedFrom: from},
		func(res *flow.Result) { os.WriteFile(marker, []byte("resumed by "+res.RunDir+"\n"), 0o644) })
}

// resumeTopology parses the topology file the run was started with, which
// must still say what the run recorded (unless force).
func resumeTopology(rec *flow.Result, cmds flow.Commands, force bool) (*flow.Topology, error) {
	text, err := os.ReadFile(rec.File)
	if err != nil {
		return nil, &refusedError{msg: fmt.Sprintf("cannot read the run's topology file: %v (run obz flow --resume from the directory the flow was run from)", err)}
	}
	if string(text) != rec.Topology && !force {
		return nil, &refusedError{msg: fmt.Sprintf("%s changed since the run: resuming it with another topology would not continue the same flow (--force resumes with the file as it is now)", rec.File)}
	}
	t, err := flow.Parse(rec.File, text, cmds)
	if err != nil {
		var ve *flow.ValidationError
		if errors.As(err, &ve) {
			return nil, &usageError{msg: "invalid topology:\n  " + strings.Join(ve.Problems, "\n  ")}
		}
		return nil, &usageError{msg: err.Error()}
	}
	return t, nil
}

// checkResumable refuses a run that finished, one that may still be
// running, and one without journals.
func checkResumable(rec *flow.Result, runDir string, force bool) error {
	finished := !rec.Ended.IsZero()
	for _, s := range rec.Stages {
		finished = finished && s.State == flow.StateDone
		if s.Journal == "" {
			return &refusedError{msg: fmt.Sprintf("the run has no journal for stage %q (was it run with --no-journal?): nothing to resume from", s.Name)}
		}
		if _, err := os.Stat(filepath.Join(runDir, s.Journal)); err != nil {
			return &refusedError{msg: fmt.Sprintf("stage %q: %v", s.Name, err)}
		}
		if rec.Ended.IsZero() && s.State == flow.StateRunning && alive(s.PID) && !force {
			return &refusedError{msg: fmt.Sprintf("stage %q (pid %d) of the run is still running: stop that flow first (--force if the pid is another process now)", s.Name, s.PID)}
		}
	}
	if finished {
		return &refusedError{msg: fmt.Sprintf("nothing to resume: the run %s finished, every stage done", runDir)}
	}
	return nil
}

// alive reports whether pid is a live process (not a zombie).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// sinkResumeArgs reads a sink's journal of the killed run: the receipts
// say which events it delivered (write skips them: --skip-delivered). A
// sink that was killed itself may have delivered more than its journal
// shows when it writes in place (stdout, --append): that is refused
// unless force, as those events could be written twice.
func sinkResumeArgs(s *flow.Stage, path string, app *cli.App, force bool) ([]string, error) {
	r, err := journal.Open(path, nil)
	if err != nil {
		return nil, &refusedError{msg: fmt.Sprintf("sink %q: %v", s.Name, err)}
	}
	defer r.Close()
	delivered := map[string]uint64{}
	ended := false
	var f wire.Frame
	for {
		err := r.Next(&f)
		if err == io.EOF || errors.Is(err, journal.ErrTorn) {
			break
		}
		if err != nil {
			return nil, &refusedError{msg: fmt.Sprintf("sink %q: its journal: %v", s.Name, err)}
		}
		switch {
		case f.Kind == wire.KindReceipt && f.Status == "ok":
			delivered[f.Of.Writer] = max(delivered[f.Of.Writer], f.Of.Seq)
		case f.Kind == wire.KindEOF:
			ended = true
		}
	}
	if s.Command() != "write" {
		if len(delivered) > 0 {
			return nil, &refusedError{msg: fmt.Sprintf("sink %q (%s) delivered events, and only write can skip them", s.Name, s.Command())}
		}
		return nil, nil
	}
	if !ended && !force && writesInPlace(s.Argv, app) {
		return nil, &refusedError{msg: fmt.Sprintf("sink %q was killed while it wrote to %s: what it wrote after its last journaled receipt is not known, and resuming could write it twice (--force resumes anyway: at least once)",
			s.Name, strings.Join(s.Argv, " "))}
	}
	var args []string
	for _, w := range slices.Sorted(maps.Keys(delivered)) {
		args = append(args, "--skip-delivered", w+":"+strconv.FormatUint(delivered[w], 10))
	}
	return args, nil
}

// writesInPlace reports whether a write command line writes to stdout or
// appends to FILE, rather than replacing FILE when complete.
func writesInPlace(argv []string, app *cli.App) bool {
	args, err := permuteArgs(append([]string{"obz"}, argv...), app)
	if err != nil {
		return true
	}
	file := ""
	for i := 2; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--":
			if i+1 < len(args) {
				file = args[i+1]
			}
			i = len(args)
		case a == "-a" || a == "--append" || a == "-append" || strings.HasPrefix(a, "--append=") && a != "--append=false":
			return true
		}
	}
	return file == "" || file == "-"
}

// recordedJournal is a source's journal of the killed run, read by the
// resumed source (runner.Env.Resume): its torn tail, where the kill cut
// it, ends it like a clean end.
type recordedJournal struct{ r *journal.Reader }

func openRecorded(path string) (*recordedJournal, error) {
	r, err := journal.Open(path, nil)
	if err != nil {
		return nil, fmt.Errorf("--resume-from: %w", err)
	}
	return &recordedJournal{r: r}, nil
}

func (j *recordedJournal) Next(f *wire.Frame) error {
	err := j.r.Next(f)
	if err != nil && errors.Is(err, journal.ErrTorn) {
		return io.EOF
	}
	return err
}

func (j *recordedJournal) Close() error { return j.r.Close() }
