package stages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var execSpec = runner.Spec{
	Name:      "exec",
	Family:    runner.FamilyTransform,
	Summary:   "run any program as a stage: payloads on its stdin, NDJSON from its stdout",
	ArgsUsage: "-- CMD [ARG...]",
	Description: `Runs CMD with its ARGs (no shell) as a stage: the program reads bare NDJSON
payloads, one per line, on its stdin and writes NDJSON on its stdout; obz
frames what it writes, counts it, and checks the input edge as every stage
does. obz's own options (-r, --name ...) go before the --.

  - Output events have no parent: which input caused which output is the
    program's business. With --one-to-one the program promises one output
    line per input line, in order (a map): output N gets input N as its
    parent and error events keep their place; more or fewer lines fail.
  - An output line that is not JSON (or not UTF-8, or over --max-line) is an
    error event of kind exec-output with the raw text; its "line" is the
    line number in the program's output.
  - Error events and watermarks on input are not shown to the program: they
    are passed on as they come, so their order among the program's output
    is approximate (exact with --one-to-one).
  - The program's stderr goes to stderr, each line prefixed with [NAME].
  - The program starts before input is read (one that cannot start fails
    the stage at once) and gets EOF when input ends; obz then passes on the
    rest of its output as it comes and waits for the program to exit. A
    non-zero exit status or death by a signal fails the stage (exit 1,
    poison EOF).
  - A program that stops reading early (closes stdin, exits) ends the input
    as obz head does; its exit status still decides.
  - The program inherits stdin, stdout and stderr only, no other open
    descriptor of obz (under obz flow: the stage's edges and status channel).
  - It runs in its own process group, which obz ends whenever the stage
    ends, and as soon as the program exits: SIGTERM to the group, SIGKILL
    2s later to what is left. Background children of the program die with
    it; obz does not wait for them or for their output.
  - SIGINT/SIGTERM reach obz, not the program. At the first one the
    program gets no more input: its stdin is closed at once (a line being
    written is finished; events still buffered are not given to it), its
    answers are passed on, and it has --drain-timeout to exit; then its
    group is ended and the stage ends with a stopped EOF and says so (it
    fails instead if its input had already ended: the output could pass
    for complete). A second signal ends obz at once, and the program with it.
  - On Linux the program gets SIGKILL when obz dies, even by kill -9; its
    own children are reached only when obz can still end the group (not
    after kill -9): a program that starts background work should end it
    when it gets SIGTERM.
  - Input reaches the program as soon as it arrives, and its answers are
    passed on as soon as it writes them, even while no input comes (tail -f
    works both ways).`,
	Examples: `obz read testdata/orders.ndjson | obz exec -r -- python3 -c 'import sys,json; [print(json.dumps({**json.loads(l), "x": 1})) for l in sys.stdin]'
obz read testdata/orders.ndjson | obz exec -r -- awk '/"country":"DE"/'
obz gen --count 1000 | obz exec -- jq -c '{id, amount}' | obz write amounts.ndjson`,
	ExitStatus: `1    also when the program cannot be started, exits with a non-zero status
     or is killed by a signal (the message says which)
130  also when the program was ended at the drain timeout after SIGINT (143
     for SIGTERM): the output ends with a stopped EOF`,
	Flags: []runner.Flag{
		{Name: "one-to-one", Usage: "the program answers each input line with exactly one output line, in order: outputs get their input as parent and error events keep their place (checked)", Default: false},
	},
	Effects: runner.Effects{
		Outside: func(o runner.Options) []runner.Effect {
			if a := o.Args(); len(a) > 0 {
				return []runner.Effect{{Kind: runner.EffectProgram, Target: a[0]}}
			}
			return nil
		},
		Replay: runner.ReplayAsRecorded,
	},
	PerEvent: func(o runner.Options) error {
		if !o.Bool("one-to-one") {
			return errors.New("exec's outputs are tied to their input events only with --one-to-one (without it the program may answer any event at any time)")
		}
		return nil
	},
	New: newExec,
}

const execFeedLimit = 256 << 10 // input buffered for the program before Event waits

type execStage struct {
	argv     []string
	oneToOne bool
	drain    time.Duration // --drain-timeout: how long the program has after a stop signal
	proc     *execProc

	// Event appends to pending; the feeder goroutine writes it to stdin.
	stdin   *os.File
	mu      sync.Mutex
	pending []byte
	closing bool
	stopped bool          // a stop signal came: the program gets no more input
	feedErr error         // the program closed its stdin (or exited)
	wake    chan struct{} // pending has data, or closing is set
	room    chan struct{} // the feeder took pending, or finished a write
	stopC   chan struct{} // closed when stopped is set
	fed     uint64

	out        chan *execBatch // the program's output; closed at its end
	ready      chan struct{}   // signalled after each batch sent on out, and at its end
	free       chan *execBatch
	quit       chan struct{} // closed by closeOutput: the output is no longer read
	quitOnce   sync.Once
	stdout     *os.File
	readErr    error // set before out is closed
	stderr     *prefixWriter
	stderrR    *os.File
	stderrDone chan struct{}
	over       chan struct{} // closed by end: the stage is done with the program

	queue  []execPending // --one-to-one: events given and not answered, error events behind them
	parent wire.Frame

	started, ended bool
}

// execPending is an event given to the program (--one-to-one), or an error
// event or control frame waiting for the answers to the events before it.
type execPending struct {
	ref  wire.Ref
	ts   uint64 // the event's source time, passed on to its answer
	held *wire.Frame
}

func newExec(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) == 0 {
		return nil, runner.Usagef("exec needs a program to run: obz exec -- CMD [ARG...]")
	}
	// --drain-timeout is a runner flag: exec reads it to bound the
	// program's time after a stop signal by the same timeout.
	drain := o.Duration("drain-timeout")
	if drain <= 0 {
		drain = 10 * time.Second
	}
	return &execStage{argv: o.Args(), oneToOne: o.Bool("one-to-one"), drain: drain}, nil
}

// Prepare starts the program, with goroutines that feed it, read its output
// and its stderr, and watch for signals.
func (e *execStage) Prepare(ctx context.Context, em *runner.Emitter) error {
	proc, stdin, stdout, stderr, err := startProgram(e.argv)
	if err != nil {
		return err
	}
	e.proc, e.stdin, e.stdout, e.stderrR, e.started = proc, stdin, stdout, stderr, true
	e.stderr = &prefixWriter{w: em.Stderr(), prefix: "[" + em.Name() + "] "}
	e.wake, e.room, e.stopC = make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{})
	// out holds every batch there is (free's), so the reader never blocks
	// on it, and it signals ready after each send: Woken never misses one.
	e.out, e.free, e.ready = make(chan *execBatch, 4), make(chan *execBatch, 4), make(chan struct{}, 1)
	for range cap(e.free) {
		e.free <- &execBatch{arena: make([]byte, 0, 64<<10)}
	}
	e.quit, e.over, e.stderrDone = make(chan struct{}), make(chan struct{}), make(chan struct{})
	go e.feed()
	go e.read(stdout, em.MaxLine())
	go copyStderr(stderr, e.stderr, e.stderrDone)
	go e.watch(ctx, watchSignals())
	return nil
}

// watch ends the program's process group when the program exits (its
// background children are not waited for), stops feeding the program at
// the first stop signal (ctx), ends the group at the drain timeout after it
// and kills it at a second signal, when obz exits at once. It returns when
// the stage is done with the program.
func (e *execStage) watch(ctx context.Context, sigc chan os.Signal) {
	defer stopSignals(sigc)
	ctxDone, exited := ctx.Done(), e.proc.exited
	var drain <-chan time.Time
	signals := 0
	for {
		select {
		case <-exited:
			exited = nil
			e.proc.end()
		case <-ctxDone:
			ctxDone = nil
			e.stop()
			t := time.NewTimer(e.drain)
			defer t.Stop()
			drain = t.C
		case <-drain:
			drain = nil
			e.proc.end()
		case <-sigc:
			if signals++; signals > 1 {
				e.proc.kill()
			}
		case <-e.over:
			return
		}
	}
}

// emitBatch passes on a batch of output: without parent, or with
// --one-to-one each line with its input event as parent and the error events
// queued behind that event after it.
func (e *execStage) emitBatch(b *execBatch, em *runner.Emitter) error {
	defer func() { e.free <- b }()
	cur := em.Parent()
	defer func() { em.SetParent(cur) }()
	for i := range b.lines {
		l := &b.lines[i]
		em.SetParent(nil)
		if e.oneToOne {
			if err := e.queuedErrors(em); err != nil {
				return err
			}
			if len(e.queue) == 0 {
				return fmt.Errorf("program %s wrote more lines than it was given (--one-to-one)", e.argv[0])
			}
			e.parent = wire.Frame{Writer: e.queue[0].ref.Writer, Seq: e.queue[0].ref.Seq, TS: e.queue[0].ts}
			e.queue = e.queue[1:]
			em.SetParent(&e.parent)
		}
		payload, err := slice(b.arena, l.span), error(nil)
		if l.err == nil {
			err = em.Emit(payload)
		} else {
			info := *l.err
			info.Raw = slice(b.arena, l.raw)
			if info.Stage == "" {
				info.Stage = em.Name()
			}
			err = em.EmitError(&info, payload)
		}
		if err != nil {
			return err
		}
	}
	return e.queuedErrors(em)
}

// InOrder passes an error event or a control frame (a watermark) on
// without showing it to the program: at once, or with --one-to-one once the
// events before it are answered, so that it keeps its place.
func (e *execStage) InOrder(ev *wire.Frame, em *runner.Emitter) error {
	if !e.oneToOne || len(e.queue) == 0 {
		return em.PassOn(ev)
	}
	f := *ev
	f.Payload = bytes.Clone(ev.Payload)
	if ev.Err != nil {
		info := *ev.Err
		info.Raw = bytes.Clone(info.Raw)
		f.Err = &info
	}
	e.queue = append(e.queue, execPending{held: &f})
	return nil
}

// queuedErrors passes on the error events and control frames at the head
// of the queue.
func (e *execStage) queuedErrors(em *runner.Emitter) error {
	for len(e.queue) > 0 && e.queue[0].held != nil {
		f := e.queue[0].held
		e.queue = e.queue[1:]
		if err := em.PassOn(f); err != nil {
			return err
		}
	}
	return nil
}

func (e *execStage) Event(ev *wire.Frame, em *runner.Emitter) error {
	if em.Context().Err() != nil {
		e.stop() // at once, not when watch sees it: no event after the signal is given
	}
	for {
		e.mu.Lock()
		stopped, full, failed := e.stopped, len(e.pending) >= execFeedLimit, e.feedErr != nil
		if !stopped && !full && !failed {
			e.pending = append(append(e.pending, ev.Payload...), '\n')
		}
		e.mu.Unlock()
		if stopped {
			return runner.ErrStop
		}
		if failed {
			em.Warnf("%s stopped reading its input (%d events were given to it); the rest of the input was not read", e.argv[0], e.fed)
			return runner.ErrStop
		}
		if !full {
			break
		}
		// The program is slower than the input: pass its answers on while
		// waiting, flushed, so that they do not wait for the next batch.
		if err := e.wait(em, e.room, e.stopC, true); err != nil {
			return err
		}
	}
	e.fed++
	if e.oneToOne {
		e.queue = append(e.queue, execPending{ref: wire.Ref{Writer: ev.Writer, Seq: ev.Seq}, ts: ev.TS})
	}
	execNotify(e.wake)
	for e.out != nil && len(e.out) > 0 { // pass on the output that is there
		if err := e.wait(em, nil, nil, false); err != nil {
			return err
		}
	}
	return nil
}

// wait passes on the next batch of output, or returns when one of the
// channels fires. With flush, the output is flushed when no more of it is
// there.
func (e *execStage) wait(em *runner.Emitter, c1, c2 <-chan struct{}, flush bool) error {
	select {
	case b, ok := <-e.out:
		return e.pass(em, b, ok, flush)
	case <-c1:
	case <-c2:
	}
	return nil
}

// pass passes on a batch received from out, or ends the output (out = nil)
// at its end.
func (e *execStage) pass(em *runner.Emitter, b *execBatch, ok, flush bool) error {
	if !ok {
		e.out = nil
		return nil
	}
	if err := e.emitBatch(b, em); err != nil {
		return err
	}
	if flush && len(e.out) == 0 {
		return em.Flush()
	}
	return nil
}

// Wake fires when the program has written output: the runner then calls
// Woken even while no input arrives, so answers are never held back.
func (e *execStage) Wake() <-chan struct{} { return e.ready }

// Woken passes on the output that is there, without waiting for more.
func (e *execStage) Woken(em *runner.Emitter) error {
	for e.out != nil && !e.ended {
		select {
		case b, ok := <-e.out:
			if !ok {
				e.out = nil
				if e.isStopped() {
					// Stopped and the program's output is over: no input
					// event will come to say so, the input may never end.
					return runner.ErrStop
				}
				return nil
			}
			if err := e.emitBatch(b, em); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// Finish closes the program's stdin, passes on the rest of its output as it
// comes and checks how the program ended.
func (e *execStage) Finish(em *runner.Emitter, kind wire.EOFKind) error {
	defer e.end()
	e.closeInput()
	ended := e.proc.ended
	var giveUp <-chan time.Time
	for e.out != nil {
		select {
		case b, ok := <-e.out:
			// Answers are flushed as they come: the program may go on
			// long after its input ended.
			if err := e.pass(em, b, ok, true); err != nil {
				return err
			}
		case <-ended:
			// The group is gone: what still holds the program's stdout
			// left the group; its output is not waited for.
			ended, giveUp = nil, time.After(execGrace)
		case <-giveUp:
			giveUp = nil
			e.closeOutput()
		}
	}
	<-e.proc.exited
	if e.proc.byUs.Load() {
		// Only a stop signal's drain timeout ends a program that Finish
		// waits for.
		msg := fmt.Sprintf("%s did not end within the drain timeout (%s) after the stop signal; its process group was ended", e.argv[0], e.drain)
		if kind != wire.Stopped {
			// The input had ended: the EOF would say natural.
			return errors.New("program " + msg)
		}
		em.Warnf("stopped: %s", msg)
		return e.stoppedQueue(em)
	}
	var ee *exec.ExitError
	switch err := e.proc.waitErr; {
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Errorf("program %s was killed by signal %d (%v)", e.argv[0], int(ws.Signal()), ws.Signal())
		}
		return fmt.Errorf("program %s exited with status %d", e.argv[0], ee.ExitCode())
	case err != nil:
		return fmt.Errorf("program %s: %w", e.argv[0], err)
	case e.readErr != nil:
		return e.readErr
	}
	if e.isStopped() {
		return e.stoppedQueue(em)
	}
	if err := e.queuedErrors(em); err != nil {
		return err
	}
	if n := len(e.queue); n > 0 {
		return fmt.Errorf("program %s left %d input events without an answer (--one-to-one)", e.argv[0], n)
	}
	return nil
}

// stoppedQueue passes on the error events still queued (--one-to-one)
// after a stop: the events the program was not given have no answer.
func (e *execStage) stoppedQueue(em *runner.Emitter) error {
	e.queue = slices.DeleteFunc(e.queue, func(p execPending) bool { return p.held == nil })
	return e.queuedErrors(em)
}

// Abort ends the program: the input broke, downstream is gone, or the
// stage failed.
func (e *execStage) Abort() {
	if e.started {
		e.end()
	}
}

// end is the one way the stage is done with the program, after Finish or
// on Abort: its stdin is closed, its process group ended (SIGTERM, SIGKILL
// after execGrace), and the rest of its stderr copied, all within a bounded
// time.
func (e *execStage) end() {
	if e.ended {
		return
	}
	e.ended = true
	e.closeInput()
	e.proc.end()
	<-e.proc.ended
	giveUp := time.NewTimer(execGrace)
	defer giveUp.Stop()
	select {
	case <-e.stderrDone:
	case <-giveUp.C: // held by a process that left the group
		e.stderrR.Close()
		<-e.stderrDone
	}
	e.closeOutput()
	close(e.over)
	e.stderr.flush()
}
