package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/obz-dev/obz/journal"
	"github.com/obz-dev/obz/wire"
)

// ErrorPolicy says what a stage does with an event that goes to the error lane.
type ErrorPolicy int

// Error policies (--on-error).
const (
	// ErrorsContinue passes the event on as an error frame and goes on.
	ErrorsContinue ErrorPolicy = iota
	// ErrorsFail makes the first error event fatal: exit 1, poison EOF.
	ErrorsFail
)

// Env is everything a stage runs with besides its options: its streams and
// the shared runner settings. cmd/obz fills it from the command line.
type Env struct {
	Name   string // writer name in frames; the stage name if empty
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Inputs []Input // input edges; stdin if empty (fan-in when several)
	// InOrder reads the inputs one after another, each to its end, instead
	// of merging them as they come (set by Run for a FileInputs stage).
	InOrder bool
	Outputs []Outbound // output edges; stdout if empty (fan-out when several)

	Output  OutputMode
	Color   bool
	OnError ErrorPolicy
	MaxLine int // longest accepted input line; wire.DefaultMaxLine if 0
	// ReplaceInvalidUTF8 reads bare input lines that are not valid UTF-8
	// as jq does, with U+FFFD for each bad byte, instead of sending them
	// to the error lane (wire.Reader.ReplaceInvalidUTF8).
	ReplaceInvalidUTF8 bool

	// InputIsTerminal makes a stop signal end input at once instead of
	// draining it: a user typing events has nothing to drain.
	InputIsTerminal bool
	// DrainTimeout bounds the wait for input to end after a stop signal.
	DrainTimeout time.Duration

	Stats       bool      // print counters on stderr at the end
	Status      io.Writer // status channel (docs/wire.md), nil for none
	StatusEvery time.Duration

	Counters *Counters // filled while the stage runs; may be nil

	// Workers, if > 0, has a Concurrent processor's events answered by that
	// many workers on goroutines of their own, emitted in input order on
	// the stage's goroutine (obz parallel -j N for filter, map, agg,
	// top, dedupe and join). A batch goes to the workers when the stage's
	// goroutine is behind (batches wait for it); otherwise the stage's
	// goroutine answers it itself, with a worker of its own, which spares
	// a cheap stage two goroutine wake-ups per batch.
	Workers int
	// DealAll (tests) hands every batch to the workers, as if the stage's
	// goroutine were always behind.
	DealAll bool

	// Progress shows a progress line on stderr while the stage runs (see
	// progress.go); cmd/obz sets it only when stderr is a terminal.
	Progress bool
	// ProgressShared says that other processes (the stages of a shell
	// pipeline) may draw on the same terminal: the line is drawn only by
	// the one that holds the terminal's lock (progress_lock_linux.go).
	ProgressShared bool
	// ProgressHold: the stage's data goes to that terminal. It draws
	// nothing and holds the terminal's lock, so that the other stages of
	// its pipeline do not draw over the data either.
	ProgressHold bool

	// Resume, if set on a source, is its output recorded by a run that was
	// killed: the source's first events are checked against it (resume.go).
	Resume Recorded
	// ResumeContinue makes the resume a continuation (obz flow restarting
	// a failed source, --resume-continue): the events that match the
	// record are not written to the outputs, whose consumers got them from
	// the process that died; they count in the seq and are journaled.
	ResumeContinue bool

	// Journal, if set, receives every output frame (data, error, EOF,
	// forwarded control frames) in canonical framed form, whatever Output
	// is: whole lines, one batch per Write, before the outputs see it.
	// A stage with several inputs also journals the order it merged them
	// in (order frames, mergeorder.go).
	Journal io.Writer
	// JournalRefs makes a stage whose spec says PassesPayloads journal the
	// data events it passes on unchanged as references to its upstream
	// writers' events (journal.AppendRef) instead of their bytes: a
	// reader resolves them in WRITER.zst beside the stage's journal, as
	// obz flow's run directory has them.
	JournalRefs bool
	// JournalSources makes a source that reads regular files journal the
	// events that are their lines as they are as references to the files
	// (path, size, modification time, offsets, checksums: SourceFile)
	// instead of copies of their bytes; and a stage that passes its
	// input's payloads on (Spec.PassesPayloads) and reads its stdin from a
	// regular file of frames journal those it passes on as references to
	// the file's frames (journal.AppendInputRef), unless JournalRefs.
	JournalSources bool
	// JournalDir is the directory of the journal (absolute), if it is a
	// file: file references give the path of a file relative to it too, so
	// that a run directory moved with its input files still resolves them.
	JournalDir string

	// MergeOrder, if set on a stage with several inputs, is the merge
	// order a recorded run journaled: the inputs are consumed in that
	// order, then in arrival order (mergeorder.go).
	MergeOrder MergeOrder
	// OrderedMerge makes a stage with several inputs merge them in the
	// canonical order (--merge ordered): every input that has not ended
	// has an event queued, and the smallest seq goes first, the first
	// input on a tie. The order depends on the inputs' contents only, so a
	// live run, its replay and a replay of the replay agree; the cost is
	// latency: the stage waits for its slowest input. A recorded
	// MergeOrder takes precedence (it is the same order).
	OrderedMerge bool
}

// Run runs one stage to completion: it reads the inputs, checks every edge's
// contract, drives the stage, writes its output and EOF, and returns nil, a
// *BrokenInputError, an *ErrorEventsError, an *EventFailedError or another
// failure. A closed stdout downstream ends the stage quietly (nil).
func Run(ctx context.Context, spec *Spec, st Stage, env *Env) error {
	name := env.Name
	if name == "" {
		name = spec.Name
	}
	if fi, ok := st.(FileInputs); ok && len(fi.InputFiles()) > 0 {
		if len(env.Inputs) > 0 {
			return &UsageError{Msg: spec.Name + " reads its input files or its input edges, not both"}
		}
		e := *env
		e.Inputs, e.InOrder = nil, true
		for _, name := range fi.InputFiles() {
			if name == "-" {
				e.Inputs = append(e.Inputs, Input{Name: "stdin", R: env.Stdin})
			} else {
				e.Inputs = append(e.Inputs, Input{Name: name, Path: name})
			}
		}
		env = &e
	}
	if env.Counters == nil {
		env.Counters = new(Counters)
	}
	outs := env.Outputs
	if len(outs) == 0 {
		outs = []Outbound{PipeOutput(env.Stdout)}
	}
	mode := env.Output
	if spec.Family == FamilySink {
		mode = None
	}
	start := time.Now()
	stderr, stopProgress := startProgress(env, name, st, start)
	em := &Emitter{ctx: ctx, name: name, mode: mode, color: env.Color, outs: slices.Clone(outs),
		stdout: env.Stdout, stderr: stderr, stdin: env.Stdin, buf: make([]byte, 0, batchSize+batchSize/4),
		counters: env.Counters, failFirst: env.OnError == ErrorsFail, maxLine: env.MaxLine, journal: env.Journal}
	em.refs = env.Journal != nil && env.JournalRefs && spec.PassesPayloads && journal.RefName(name)
	em.fileRefs = env.Journal != nil && env.JournalSources && spec.Family == FamilySource
	em.journalDir = env.JournalDir
	em.runs = env.Journal != nil && journal.RefName(name)
	if em.runs && !em.refs && env.JournalSources && spec.PassesPayloads && len(env.Inputs) == 0 && !env.ReplaceInvalidUTF8 {
		// The stage's input is its stdin: when that is a regular file of
		// frames, the file is their record (journal.AppendInputRef).
		em.input = stdinFile(env.Stdin, env.JournalDir)
	}

	stopStatus := startStatus(env, name, start)
	var err error
	switch s := st.(type) {
	case Source:
		// Under obz flow (a status channel), the source stamps its
		// events' source time, for the end-to-end latency downstream.
		em.stamp = env.Status != nil
		em.startResume(env.Resume, env.ResumeContinue)
		err = runSource(ctx, s, em)
	case Processor:
		err = runProcessor(ctx, s, em, env, name)
	default:
		err = fmt.Errorf("stage %s is neither a source nor a processor", spec.Name)
	}
	em.publish()
	stopProgress()
	stopStatus(err)
	if env.Stats {
		c := env.Counters
		dups := ""
		if n := c.Duplicates.Load(); n > 0 {
			dups = fmt.Sprintf(", duplicates dropped %d", n)
		}
		fmt.Fprintf(env.Stderr, "obz %s: in %d, out %d, errors %d%s, bytes in %d, bytes out %d, %.3fs\n",
			name, c.In.Load(), c.Out.Load(), c.Errors.Load(), dups, c.BytesIn.Load(), c.BytesOut.Load(), time.Since(start).Seconds())
		if env.Workers > 0 {
			// Whether the workers had anything to do: a stage cheaper than
			// its reading answers most batches on its own goroutine.
			fmt.Fprintf(env.Stderr, "obz %s: input batches answered by the %d workers %d, by the stage's goroutine %d\n",
				name, env.Workers, c.Dealt.Load(), c.Inline.Load())
		}
	}
	return err
}

// runSource runs a Source: Produce, then the end of a resume, then the EOF.
func runSource(ctx context.Context, s Source, em *Emitter) error {
	err := s.Produce(ctx, em)
	em.cur = nil
	stopped := ctx.Err() != nil
	err = em.endCatchUp(err, stopped)
	if err == nil {
		err = em.endResume(stopped)
	}
	switch {
	case errors.Is(err, errDownstreamGone):
		return nil
	case err != nil:
		return em.failEOF(wire.Poison, err)
	}
	kind := wire.Natural
	if stopped {
		kind = wire.Stopped
	}
	if err := em.endEOF(kind); err != nil {
		return err
	}
	return em.errorEvents()
}

// startStatus starts the stage's status lines on env.Status (none if it
// is nil): StartStatus with the stage's counters.
func startStatus(env *Env, name string, start time.Time) func(error) {
	if env.Status == nil {
		return func(error) {}
	}
	return StartStatus(env.Status, name, env.Counters, start, env.StatusEvery)
}

// StartStatus writes a status line of the counters c to w at once and
// every interval (500 ms if 0) until the returned function is called with
// how the stage ended: it then writes the last line, done or failed. obz
// nats pub and sub use it as a flow's bridges.
func StartStatus(w io.Writer, name string, c *Counters, start time.Time, every time.Duration) func(error) {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	write := func(state string, err error) {
		s := wire.Status{Stage: name, State: state, In: c.In.Load(), Out: c.Out.Load(), Errors: c.Errors.Load(),
			BytesIn: c.BytesIn.Load(), BytesOut: c.BytesOut.Load(), Duplicates: c.Duplicates.Load(), Elapsed: time.Since(start).Seconds(),
			WaitIn: time.Duration(c.WaitIn.Load()).Seconds(), WaitOut: time.Duration(c.WaitOut.Load()).Seconds(),
			ErrorKinds: c.ErrorKinds(), Proc: c.Proc.Snapshot(), E2E: c.E2E.Snapshot()}
		if err != nil {
			s.Error = err.Error()
			var broken *BrokenInputError
			s.Broken = errors.As(err, &broken)
		}
		mu.Lock()
		enc.Encode(s)
		mu.Unlock()
	}
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		write("running", nil)
		for {
			select {
			case <-t.C:
				write("running", nil)
			case <-stop:
				return
			}
		}
	}()
	return func(err error) {
		close(stop)
		wg.Wait()
		var ee *ErrorEventsError
		switch {
		case err == nil, errors.As(err, &ee):
			write("done", err)
		default:
			write("failed", err)
		}
	}
}
