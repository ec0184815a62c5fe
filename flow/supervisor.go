package flow

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/obz-dev/obz/wire"
)

// Options configure a supervised run.
type Options struct {
	Exe          string    // the obz binary that runs each stage
	Version      string    // obz version, for the manifest
	Stdout       io.Writer // stdout of sinks that write to stdout
	Stderr       io.Writer
	Live         bool // redraw a live status block (stderr is a terminal)
	DrainTimeout time.Duration
	RunDir       string // overrides the topology's run_dir base
	MetricsAddr  string // overrides the topology's metrics_addr; "" for none
	// MetricsReady, if set, is called with the bound metrics address.
	MetricsReady func(addr string)
	// NoJournal turns off the journals (RUN_DIR/journals/STAGE.zst).
	NoJournal bool
	// JournalSources, if set, is given to every source with its journal
	// (--journal-sources ref|copy), before the run's own arguments, which
	// may set it again.
	JournalSources string
	// JournalCodec, if set, is given to every journaled stage
	// (--journal-codec s2|zstd), before the run's own arguments, which may
	// set it again.
	JournalCodec string
	// ResumedFrom is the run directory this run resumes (obz flow --resume),
	// recorded in the manifest.
	ResumedFrom string
	// StallAfter is how long a running stage may make no progress before
	// it is reported stalled or backpressured (live view, metrics,
	// events.ndjson); 0 is DefaultStallAfter, a negative value turns the
	// reports off.
	StallAfter time.Duration
	// Check, if set, checks every stage's command line before anything
	// starts or a run directory is made (Topology.Check): Run returns its
	// *ValidationError.
	Check StageCheck

	// open opens the files of the run directory; nil is os.OpenFile.
	open openFunc
}

// StageResult is how one stage ended.
type StageResult struct {
	Name     string      `json:"name"`
	Argv     []string    `json:"command"`
	Inputs   []string    `json:"inputs,omitempty"`
	State    State       `json:"state"` // pending, running, done, stopped, failed, killed
	ExitCode int         `json:"exit_code"`
	Status   wire.Status `json:"counts"`
	Started  time.Time   `json:"started"`
	Ended    time.Time   `json:"ended"`
	Log      string      `json:"log"`
	Journal  string      `json:"journal,omitempty"` // journals/STAGE.zst, relative to the run directory
	PID      int         `json:"pid,omitempty"`
	Cause    string      `json:"cause,omitempty"`
	Restarts int         `json:"restarts,omitempty"` // times a failed source was restarted (restart = "on-failure")
	tail     []string
}

// Result is how the flow ended.
type Result struct {
	Flow        string         `json:"flow"`
	File        string         `json:"topology_file"`
	Version     string         `json:"obz_version"`
	RunDir      string         `json:"run_dir"`
	Started     time.Time      `json:"started"`
	Ended       time.Time      `json:"ended"`
	Interrupted bool           `json:"interrupted"`
	Failed      string         `json:"failed_stage,omitempty"`
	Stages      []*StageResult `json:"stages"`
	Topology    string         `json:"topology"`
	ResumedFrom string         `json:"resumed_from,omitempty"`
	// JournalSources is how the run's sources journaled the files they
	// read when obz flow set it for all of them (--journal-sources ref or
	// copy; "" when each stage's own default or run line decided): a
	// resume gives it to the sources again.
	JournalSources string `json:"journal_sources,omitempty"`
	// Host and RunID are those of a host's part of a flow (obz flow
	// --host NAME --run-id ID): the other hosts' run directories of the
	// run have the same RunID.
	Host  string `json:"host,omitempty"`
	RunID string `json:"run_id,omitempty"`
	// Events is the run's event record (events.ndjson), relative to RunDir.
	Events string `json:"events,omitempty"`
	// RunDirErr is the first error writing the run directory (manifest.json
	// or a stage's log, on a full disk for instance): its record is
	// incomplete (manifest.json may still say "running"), and resume and
	// verify may refuse it. The caller fails the run.
	RunDirErr error `json:"-"`
}

// proc is one stage under the supervisor: its lifecycle, its process and
// the pipes the supervisor keeps.
type proc struct {
	lifecycle
	st      *Stage
	cmd     *exec.Cmd
	source  bool
	files   []*os.File // the child's ends, closed in the parent after start
	stderr  *os.File   // parent's read end
	status  *os.File   // parent's read end
	log     io.WriteCloser
	readers sync.WaitGroup
	prev    wire.Status // at the last redraw, for rates

	// A restartable source (restart = "on-failure"): the supervisor keeps
	// the write ends of its output pipes, so that its consumers do not see
	// the end of their input when it dies, and starts it again with them.
	restartable bool
	// ready is closed when the process has written its first status line
	// (or ended): from then on it handles signals.
	ready chan struct{}
	argv  []string    // its command line, without the obz binary
	keep  []*os.File  // the kept write ends, closed when it ends for good
	timer *time.Timer // the backoff of a pending restart
}

const tailLines = 12

// Run starts every stage of t as its own obz process, wired with pipes, and
// supervises it to the end: it reports the first failure and drains the
// rest, drains on ctx cancellation (SIGINT/SIGTERM to obz flow), kills what
// is left after the drain timeout, and writes the run directory. With
// opts.Check it first checks every stage's command line.
func Run(ctx context.Context, t *Topology, opts Options) (*Result, error) {
	if opts.Check != nil {
		if err := t.check(opts.Check, !opts.NoJournal); err != nil {
			return nil, err
		}
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	if opts.open == nil {
		opts.open = openFile
	}
	base := t.RunDir
	if opts.RunDir != "" {
		base = opts.RunDir
	}
	start := time.Now().UTC()
	runDir, err := makeRunDir(base, t.Name, start)
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(runDir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("creating run directory: %w", err)
	}
	if !opts.NoJournal {
		if err := os.MkdirAll(filepath.Join(runDir, "journals"), 0o755); err != nil {
			return nil, fmt.Errorf("creating run directory: %w", err)
		}
	}
	topo, _ := os.ReadFile(t.File)
	res := &Result{Flow: t.Name, File: cmp.Or(t.Path, t.File), Version: opts.Version, RunDir: runDir, Started: start, Topology: string(topo), ResumedFrom: opts.ResumedFrom, Host: t.Host, RunID: t.RunID}
	if !opts.NoJournal {
		res.JournalSources = opts.JournalSources
	}
	events, err := openEventLog(runDir)
	if err != nil {
		return nil, fmt.Errorf("creating run directory: %w", err)
	}
	defer events.close()
	res.Events = EventsFile
	var names []string
	for _, s := range t.Order() {
		names = append(names, s.Name)
	}
	begin := map[string]any{"flow": t.Name, "run_dir": runDir, "topology_file": t.File, "stages": names}
	if opts.ResumedFrom != "" {
		begin["resumed_from"] = opts.ResumedFrom
	}
	events.record("flow_started", "", begin)

	procs := map[string]*proc{}
	order := t.Order()
	for _, s := range order {
		p := &proc{st: s, source: len(s.AllInputs()) == 0}
		p.stall.after = cmp.Or(opts.StallAfter, DefaultStallAfter)
		p.lifecycle.events, p.runDir = events, runDir
		p.res = &StageResult{Name: s.Name, Argv: s.Argv, Inputs: s.AllInputs(), State: StatePending, Log: filepath.Join("logs", s.Name+".log")}
		if !opts.NoJournal && s.bridge != bridgePub {
			p.res.Journal = filepath.Join("journals", s.Name+".zst")
		}
		procs[s.Name] = p
		res.Stages = append(res.Stages, p.res)
	}
	// cleanup closes the parent's copies of the children's ends; after the
	// start it leaves the output pipes of restartable sources open.
	started := false
	cleanup := func() {
		for _, p := range procs {
			for _, f := range p.files {
				if !started || !slices.Contains(p.keep, f) {
					f.Close()
				}
			}
			if !started {
				p.keep = nil
			}
		}
	}

	// One pipe per edge: the producer writes to --out-fd, the consumer reads
	// --in-fd. Fan-out and fan-in are several fds of one stage. The pipes
	// are made in the order edgeArgs numbers their fds.
	edges := edgeArgs(order)
	for _, s := range order {
		for _, in := range s.AllInputs() {
			r, w, err := os.Pipe()
			if err != nil {
				cleanup()
				return nil, err
			}
			procs[in].files = append(procs[in].files, w)
			procs[s.Name].files = append(procs[s.Name].files, r)
		}
	}
	var notes []string
	for _, s := range order {
		p := procs[s.Name]
		if p.source && s.Restartable() {
			if p.res.Journal != "" {
				// Every file so far is an output's write end.
				p.restartable, p.keep = true, slices.Clone(p.files)
			} else {
				notes = append(notes, fmt.Sprintf("obz flow: stage %q has restart = \"on-failure\", which needs its journal: with --no-journal it is not restarted", s.Name))
			}
		}
		sr, sw, err := os.Pipe()
		if err != nil {
			cleanup()
			return nil, err
		}
		p.status = sr
		p.files = append(p.files, sw)
		er, ew, err := os.Pipe()
		if err != nil {
			cleanup()
			return nil, err
		}
		p.stderr = er
		log, err := opts.open(filepath.Join(runDir, p.res.Log), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			cleanup()
			return nil, err
		}
		p.log = log

		var journal string
		if p.res.Journal != "" {
			// Absolute: the stage may run in another directory (dir = ...).
			if journal, err = filepath.Abs(filepath.Join(runDir, p.res.Journal)); err != nil {
				cleanup()
				return nil, err
			}
		}
		argv := t.commandLine(s, edges[s.Name], journal, p.restartable)
		if journal != "" && opts.JournalSources != "" && len(s.AllInputs()) == 0 && s.Replicas == 0 && !s.isBridge() {
			argv = slices.Insert(argv, 1, "--journal-sources", opts.JournalSources)
		}
		if journal != "" && opts.JournalCodec != "" && s.bridge == "" {
			argv = slices.Insert(argv, 1, "--journal-codec", opts.JournalCodec)
		}
		p.argv = argv
		p.cmd = newCmd(opts, s, argv, p.files[:len(p.files):len(p.files)], ew)
		p.files = append(p.files, ew)
	}
	sup := &supervisor{opts: opts, res: res, procs: procs, order: order, events: events}
	sup.writeManifest()
	for _, n := range notes {
		sup.say("%s", n)
	}
	if addr := cmp.Or(opts.MetricsAddr, t.MetricsAddr); addr != "" {
		bound, stop, err := serveMetrics(addr, sup)
		if err != nil {
			cleanup()
			return nil, err
		}
		defer stop()
		sup.say("obz flow: metrics on http://%s/metrics", bound)
		if opts.MetricsReady != nil {
			opts.MetricsReady(bound)
		}
	}
	// Start consumers before producers, sources last.
	for i := len(order) - 1; i >= 0; i-- {
		p := procs[order[i].Name]
		if err := p.cmd.Start(); err != nil {
			sup.killAll()
			cleanup()
			if _, serr := os.Stat(p.cmd.Dir); p.cmd.Dir != "" && serr != nil {
				// exec reports a directory it cannot enter as the binary
				// missing: name the directory.
				return nil, fmt.Errorf("starting stage %q: its directory %s (where the topology file was, or its dir): %w", p.st.Name, p.cmd.Dir, serr)
			}
			return nil, fmt.Errorf("starting stage %q: %w", p.st.Name, err)
		}
		p.start(p.cmd.Process.Pid)
		p.readers.Add(2)
		go sup.readStderr(p)
		p.ready = make(chan struct{})
		go sup.readStatus(p, p.ready)
	}
	started = true
	cleanup() // the children hold their ends now
	sup.writeManifest()

	sup.wait(ctx)
	res.Ended = time.Now().UTC()
	events.record("flow_ended", "", map[string]any{"failed_stage": res.Failed, "interrupted": res.Interrupted, "duration_s": res.Ended.Sub(res.Started).Seconds()})
	if err := events.close(); err != nil {
		sup.runDirError(EventsFile, fmt.Errorf("the run's event record: %w", err))
	}
	sup.writeManifest()
	return res, nil
}

// newCmd makes the command of one stage process: argv run by the obz
// binary, files as fds 3, 4, ..., stderr to its pipe.
func newCmd(opts Options, s *Stage, argv []string, files []*os.File, stderr *os.File) *exec.Cmd {
	cmd := exec.Command(opts.Exe, argv...)
	cmd.ExtraFiles = files
	cmd.Stderr = stderr
	if len(s.Outputs) == 0 {
		cmd.Stdout = opts.Stdout
	}
	cmd.Dir = s.Dir
	cmd.Env = os.Environ()
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = stageProcAttr()
	if s.bridge == bridgePub {
		cmd.SysProcAttr = bridgeProcAttr()
	}
	return cmd
}

type supervisor struct {
	opts   Options
	res    *Result
	procs  map[string]*proc
	order  []*Stage
	outMu  sync.Mutex
	live   int // lines of the live block on screen
	failed bool
	events *eventLog

	errMu    sync.Mutex
	badFiles map[string]bool // run directory files already reported unwritable
}

func (s *supervisor) wait(ctx context.Context) {
	type exit struct {
		p   *proc
		err error
	}
	done := make(chan exit, len(s.procs))
	watch := func(p *proc) {
		cmd := p.cmd
		go func() {
			err := cmd.Wait()
			p.readers.Wait()
			done <- exit{p, err}
		}()
	}
	for _, p := range s.procs {
		watch(p)
	}
	remaining := len(s.procs)
	restartDue := make(chan *proc, len(s.procs))
	defer func() {
		for _, p := range s.procs {
			p.closeKept()
		}
	}()
	var drainTimer <-chan time.Time
	var drain func()
	ctxDone := ctx.Done()
	var tick <-chan time.Time
	if s.opts.Live {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	draining := false
	// failed starts the drain on the first failure.
	failed := func(p *proc) {
		if p.failure() && !s.failed {
			s.failed = true
			s.say("obz flow: stage %q exited with status %d; draining the other stages", p.st.Name, p.res.ExitCode)
			s.events.record("flow_draining", "", map[string]any{"why": "stage failed", "failed_stage": p.st.Name})
			drain()
		}
	}
	// giveUp ends a source that is not restarted (again): its consumers
	// see the end of their input.
	giveUp := func(p *proc) {
		p.giveUp()
		p.closeKept()
		remaining--
	}
	drain = func() {
		if draining {
			return
		}
		draining = true
		for _, p := range s.procs {
			// A pending restart is called off; when its timer already
			// fired, it is when restartDue reports it.
			if p.retrying && p.timer.Stop() {
				giveUp(p)
			}
			// A reading bridge (obz nats sub) is not stopped: it has no
			// EOF of its own to end its edge with, and waits for the
			// one its producer's host sends.
			if p.source && !p.st.isBridge() && p.stop() {
				p.signalWhenReady(syscall.SIGTERM)
			}
		}
		drainTimer = time.After(s.opts.DrainTimeout)
	}
	for remaining > 0 {
		select {
		case e := <-done:
			p := e.p
			p.exited(p.cmd.ProcessState, e.err)
			if p.restartable && p.failure() && !p.stopping && !draining {
				if p.res.Restarts < p.st.MaxRestarts {
					n := p.retry()
					d := restartBackoff(p.st.Backoff, n)
					s.say("obz flow: stage %q failed (exit %d); restart %d of %d in %s", p.st.Name, p.res.ExitCode, n, p.st.MaxRestarts, d)
					p.timer = time.AfterFunc(d, func() {
						p.endTornLine()
						restartDue <- p
					})
					s.writeManifest()
					continue
				}
				s.say("obz flow: stage %q failed (exit %d); no restart left (max_restarts = %d)", p.st.Name, p.res.ExitCode, p.st.MaxRestarts)
			}
			remaining--
			p.closeKept()
			failed(p)
		case p := <-restartDue:
			if draining || !p.retrying {
				giveUp(p)
				failed(p)
				continue
			}
			if err := s.restart(p); err != nil {
				s.say("obz flow: restarting stage %q: %v", p.st.Name, err)
				giveUp(p)
				failed(p)
				continue
			}
			watch(p)
			s.writeManifest()
		case <-ctxDone:
			ctxDone = nil
			s.res.Interrupted = true
			s.events.record("flow_draining", "", map[string]any{"why": "signal"})
			s.say("obz flow: stopping: draining stages (sources stop first; %s at most)", s.opts.DrainTimeout)
			drain()
		case <-drainTimer:
			drainTimer = nil
			s.say("obz flow: drain timeout: killing the stages still running")
			s.killAll()
		case <-tick:
			s.redraw()
		}
	}
	s.clearLive()
	if root := s.rootFailure(); root != nil {
		s.res.Failed = root.st.Name
		s.reportFailure(root)
	}
}

// rootFailure picks the failure that caused the others: the failed stage
// first in topological order (its upstreams did not fail). Stages that
// failed because their input broke come after it.
func (s *supervisor) rootFailure() *proc {
	for _, st := range s.order {
		if p := s.procs[st.Name]; p.failure() {
			return p
		}
	}
	for _, st := range s.order {
		if p := s.procs[st.Name]; p.res.State == StateKilled && !s.res.Interrupted {
			return p
		}
	}
	return nil
}

func (s *supervisor) reportFailure(p *proc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "obz flow: stage %q (%s) failed with exit status %d", p.st.Name, p.st.Command(), p.res.ExitCode)
	if p.res.Cause != "" {
		fmt.Fprintf(&b, " (%s)", p.res.Cause)
	}
	if len(p.res.tail) > 0 {
		b.WriteString("\n  last lines of its stderr:")
		for _, l := range p.res.tail {
			b.WriteString("\n    " + l)
		}
	}
	s.say("%s", b.String())
}

// restartBackoff is the wait before restart n (1, 2, ...): backoff,
// doubled for each restart before, at most MaxBackoff.
func restartBackoff(backoff time.Duration, n int) time.Duration {
	d := backoff
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// endTornLine writes a newline into each output of a source that died: a
// line the process did not finish ends there (its consumers report it as
// an error event, and the lost event as a gap), and otherwise it is a blank
// line, which readers skip.
func (p *proc) endTornLine() {
	for _, f := range p.keep {
		f.Write([]byte{'\n'})
	}
}

// closeKept closes the kept write ends of a restartable source's outputs:
// its consumers see the end of their input.
func (p *proc) closeKept() {
	for _, f := range p.keep {
		f.Close()
	}
	p.keep = nil
}

// restart starts a failed source again (restart = "on-failure"): its
// journal is moved aside (journals/STAGE.attempt-N.zst) and given to the new
// process with --resume-continue: it runs from its start, checks each event
// against the journal, passes on none of those (the consumers have them)
// and continues after the journal's last complete frame.
func (s *supervisor) restart(p *proc) error {
	n := p.res.Restarts
	cur := filepath.Join(s.res.RunDir, p.res.Journal)
	old, err := filepath.Abs(filepath.Join(s.res.RunDir, "journals", fmt.Sprintf("%s.attempt-%d.zst", p.st.Name, n)))
	if err != nil {
		return err
	}
	// The same command line, continuing the old journal (instead of what
	// an obz flow --resume gave it).
	argv := []string{p.argv[0], flagResumeFrom, old, flagResumeContinue}
	if err := os.Rename(cur, old); errors.Is(err, fs.ErrNotExist) {
		argv = argv[:1] // it died before it made its journal: it wrote nothing
	} else if err != nil {
		return fmt.Errorf("moving its journal aside: %w", err)
	}
	for i := 1; i < len(p.argv); i++ {
		if p.argv[i] == flagResumeFrom {
			i++
			continue
		}
		argv = append(argv, p.argv[i])
	}
	sr, sw, err := os.Pipe()
	if err != nil {
		return err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		sr.Close()
		sw.Close()
		return err
	}
	log, err := s.opts.open(filepath.Join(s.res.RunDir, p.res.Log), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		sr.Close()
		sw.Close()
		er.Close()
		ew.Close()
		return err
	}
	// The fds are those of the first start: the outputs, then the status.
	files := append(slices.Clone(p.keep), sw)
	cmd := newCmd(s.opts, p.st, argv, files, ew)
	err = cmd.Start()
	sw.Close()
	ew.Close()
	if err != nil {
		sr.Close()
		er.Close()
		log.Close()
		return err
	}
	p.mu.Lock()
	p.cmd, p.status, p.stderr, p.log = cmd, sr, er, log
	p.mu.Unlock()
	p.restarted(cmd.Process.Pid)
	p.readers.Add(2)
	go s.readStderr(p)
	p.ready = make(chan struct{})
	go s.readStatus(p, p.ready)
	return nil
}

// writeManifest writes manifest.json; a failure is reported once and kept
// in s.res.RunDirErr.
func (s *supervisor) writeManifest() {
	var err error
	s.lockAll(func() { err = writeManifestWith(s.res, s.opts.open) })
	if err != nil {
		s.runDirError("manifest.json", err)
	}
}

func (s *supervisor) killAll() {
	for _, p := range s.procs {
		// The state, not ProcessState: Wait writes that on another
		// goroutine; the state changes only on this one.
		if p.cmd.Process != nil && p.kill() {
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		}
	}
}

// readStderr keeps a stage's stderr: in its log, prefixed on ours, and the
// last lines for a failure report.
func (s *supervisor) readStderr(p *proc) {
	defer p.readers.Done()
	defer p.stderr.Close()
	log := p.log
	defer func() {
		if err := log.Close(); err != nil {
			s.runDirError(p.res.Log, fmt.Errorf("the log of stage %q: %w", p.st.Name, err))
		}
	}()
	logOK := true
	sc := bufio.NewScanner(p.stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if logOK {
			// After a failed write the log stops: a later line that
			// fits would leave a log with a hole in it.
			if _, err := fmt.Fprintln(log, line); err != nil {
				logOK = false
				s.runDirError(p.res.Log, fmt.Errorf("the log of stage %q: %w", p.st.Name, err))
			}
		}
		p.mu.Lock()
		p.res.tail = append(p.res.tail, line)
		if len(p.res.tail) > tailLines {
			p.res.tail = p.res.tail[1:]
		}
		p.mu.Unlock()
		s.say("[%s] %s", p.st.Name, line)
	}
}

// readStatus follows a stage's status channel.
func (s *supervisor) readStatus(p *proc, ready chan struct{}) {
	defer p.readers.Done()
	defer p.status.Close()
	var once sync.Once
	isReady := func() { once.Do(func() { close(ready) }) }
	defer isReady()
	dec := json.NewDecoder(p.status)
	for {
		var st wire.Status
		if err := dec.Decode(&st); err != nil {
			return
		}
		isReady()
		now := time.Now()
		// Events its inputs have written that it has not read: with none,
		// a stage without progress is idle, not stalled. (Each upstream is
		// locked on its own: lockAll holds them all.)
		var sent uint64
		for _, in := range p.st.AllInputs() {
			up := s.procs[in]
			up.mu.Lock()
			sent += up.res.Status.Out + up.res.Status.Errors
			up.mu.Unlock()
		}
		p.mu.Lock()
		p.res.Status = st
		live, changed := Live, false
		// Every line counts, the last (done, failed) too: a stage that
		// ends after a stall made progress.
		if s.opts.StallAfter >= 0 {
			live, changed = p.stall.observe(st, now, !p.source && sent > st.In)
		}
		note := p.stall.note(now)
		p.mu.Unlock()
		if changed {
			s.stallChanged(p, live, note)
		}
	}
}

// stallChanged reports a change of a stage's liveness: a line on stderr
// and an event in events.ndjson.
func (s *supervisor) stallChanged(p *proc, live Liveness, note string) {
	if live == Live {
		s.events.record("stage_progressing", p.st.Name, nil)
		s.say("obz flow: stage %q makes progress again", p.st.Name)
		return
	}
	s.events.record("stage_"+live.String(), p.st.Name, map[string]any{"after_s": p.stall.after.Seconds()})
	switch live {
	case Stalled:
		s.say("obz flow: stage %q is stalled: it has input but made no progress for %s (it keeps running; Ctrl-C stops the flow)", p.st.Name, p.stall.after)
	case Backpressured:
		s.say("obz flow: stage %q made no progress for %s: it is blocked writing to %s", p.st.Name, p.stall.after, strings.Join(p.st.Outputs, ", "))
	}
}

// signalWhenReady sends sig to the stage's process once it is ready: its
// first status line says that it handles signals (obz installs its handlers
// before anything else). A SIGTERM that came before, while the process was
// still starting, would kill it before it wrote its EOF, and its consumers
// would see a broken edge where the user asked for a clean stop (Ctrl-C in
// the first moments of a run, on a loaded machine).
func (p *proc) signalWhenReady(sig os.Signal) {
	proc, ready := p.cmd.Process, p.ready
	select {
	case <-ready:
		proc.Signal(sig)
	default:
		// Closed by the first status line, or when the status channel
		// ends with the process.
		go func() {
			<-ready
			proc.Signal(sig)
		}()
	}
}

// lockAll runs f with every stage's result locked: their status readers
// write to them while the flow runs.
func (s *supervisor) lockAll(f func()) {
	for _, p := range s.procs {
		p.mu.Lock()
	}
	defer func() {
		for _, p := range s.procs {
			p.mu.Unlock()
		}
	}()
	f()
}
