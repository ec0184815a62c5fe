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
    works both ways).
  - With --one-to-one, obz parallel -j N (replicas = N in a flow) runs N
    copies of the program under one obz exec: runs of events go to each in
    turn and the answers are passed on in input order, as one program's.
    All of the above holds for each copy; its stderr is prefixed [NAME i/N].`,
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

const execFeedLimit = 256 << 10 // input buffered for a program before Event waits

type execStage struct {
	argv     []string
	oneToOne bool
	drain    time.Duration // --drain-timeout: how long the program has after a stop signal
	run      int           // replicas: events dealt to one program at a time
	kids     []*execChild  // the program, or its replicas (obz parallel, --one-to-one)
	next     int           // the program the next event goes to
	dealt    int           // events dealt to it in this run

	ready    chan struct{} // a program's reader sent a batch on its out, or ended
	stopC    chan struct{} // closed when a stop signal came: no program gets more input
	stopOnce sync.Once
	over     chan struct{} // closed by end: the stage is done with the programs

	queue  execQueue // --one-to-one: events given and not answered, error events behind them
	parent wire.Frame
	passed int64 // lines of the programs' output passed on

	started, ended bool
}

// execPending is an event given to a program (--one-to-one), or an error
// event or control frame waiting for the answers to the events before it.
type execPending struct {
	ref  wire.Ref
	ts   uint64 // the event's source time, passed on to its answer
	kid  int    // the program it was given to
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
	e := &execStage{argv: o.Args(), oneToOne: o.Bool("one-to-one"), drain: drain}
	e.kids = []*execChild{{e: e}}
	return e, nil
}

// Replicate runs n copies of the program, each dealt batch events in turn,
// their answers merged in input order (obz parallel -j n -- exec
// --one-to-one): only with --one-to-one, which says which answer is whose.
func (e *execStage) Replicate(n, batch int) bool {
	if !e.oneToOne || n < 1 || batch < 1 {
		return false
	}
	e.run = batch
	e.kids = make([]*execChild, n)
	for i := range e.kids {
		e.kids[i] = &execChild{e: e, n: i + 1}
	}
	return true
}

// Prepare starts the programs, with goroutines that feed them, read their
// output and their stderr, and watch for signals.
func (e *execStage) Prepare(ctx context.Context, em *runner.Emitter) error {
	for i, k := range e.kids {
		if err := k.start(); err != nil {
			for _, s := range e.kids[:i] {
				s.abandon()
			}
			return err
		}
	}
	e.started = true
	// ready is signalled after each batch a reader sends, and at its end:
	// Woken never misses one.
	e.ready, e.stopC, e.over = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	stderr := em.Stderr()
	if len(e.kids) > 1 {
		// The programs' stderr copiers write whole lines at the same time.
		stderr = &syncWriter{w: stderr}
	}
	for _, k := range e.kids {
		prefix := "[" + em.Name() + "] "
		if len(e.kids) > 1 {
			prefix = fmt.Sprintf("[%s %d/%d] ", em.Name(), k.n, len(e.kids))
		}
		k.run(stderr, prefix, em.MaxLine())
	}
	go e.watch(ctx, watchSignals())
	return nil
}

// label names a program in messages: with replicas, which one.
func (k *execChild) label() string {
	if len(k.e.kids) == 1 {
		return k.e.argv[0]
	}
	return fmt.Sprintf("%s (replica %d of %d)", k.e.argv[0], k.n, len(k.e.kids))
}

// watch stops feeding the programs at the first stop signal (ctx), ends
// their groups at the drain timeout after it and kills them at a second
// signal, when obz exits at once. Each program's group is ended as soon as
// it exits (its background children are not waited for). It returns when
// the stage is done with the programs.
func (e *execStage) watch(ctx context.Context, sigc chan os.Signal) {
	defer stopSignals(sigc)
	for _, k := range e.kids {
		go func() {
			select {
			case <-k.proc.exited:
				k.proc.end()
			case <-e.over:
			}
		}()
	}
	ctxDone := ctx.Done()
	var drain <-chan time.Time
	signals := 0
	for {
		select {
		case <-ctxDone:
			ctxDone = nil
			e.stop()
			t := time.NewTimer(e.drain)
			defer t.Stop()
			drain = t.C
		case <-drain:
			drain = nil
			for _, k := range e.kids {
				k.proc.end()
			}
		case <-sigc:
			if signals++; signals > 1 {
				for _, k := range e.kids {
					k.proc.kill()
				}
			}
		case <-e.over:
			return
		}
	}
}

// InOrder passes an error event or a control frame (a watermark) on
// without showing it to the program: at once, or with --one-to-one once the
// events before it are answered, so that it keeps its place.
func (e *execStage) InOrder(ev *wire.Frame, em *runner.Emitter) error {
	if !e.oneToOne || e.queue.len() == 0 {
		return em.PassOn(ev)
	}
	f := *ev
	f.Payload = bytes.Clone(ev.Payload)
	if ev.Err != nil {
		info := *ev.Err
		info.Raw = bytes.Clone(info.Raw)
		f.Err = &info
	}
	e.queue.push(execPending{held: &f})
	return nil
}

// Event gives the event to the program whose run it is.
func (e *execStage) Event(ev *wire.Frame, em *runner.Emitter) error {
	if em.Context().Err() != nil {
		e.stop() // at once, not when watch sees it: no event after the signal is given
	}
	k := e.kids[e.next]
	for {
		k.mu.Lock()
		stopped, full, failed := k.stopped, len(k.pending) >= execFeedLimit, k.feedErr != nil
		if !stopped && !full && !failed {
			k.pending = append(append(k.pending, ev.Payload...), '\n')
		}
		k.mu.Unlock()
		if stopped {
			return runner.ErrStop
		}
		if failed {
			em.Warnf("%s stopped reading its input (%d events were given to it); the rest of the input was not read", k.label(), k.fed)
			return runner.ErrStop
		}
		if !full {
			break
		}
		// The program is slower than the input: pass the answers on while
		// waiting, flushed, so that they do not wait for the next batch.
		select {
		case <-e.ready:
			if err := e.advance(em, true); err != nil {
				return err
			}
		case <-k.room:
		case <-e.stopC:
		}
	}
	k.fed++
	if e.oneToOne {
		e.queue.push(execPending{ref: wire.Ref{Writer: ev.Writer, Seq: ev.Seq}, ts: ev.TS, kid: e.next})
		k.owed++
	}
	execNotify(k.wake)
	if len(e.kids) > 1 {
		if e.dealt++; e.dealt >= e.run {
			e.dealt, e.next = 0, (e.next+1)%len(e.kids)
		}
	}
	return e.advance(em, false) // pass on the output that is there
}

// Wake fires when a program has written output: the runner then calls
// Woken even while no input arrives, so answers are never held back.
func (e *execStage) Wake() <-chan struct{} { return e.ready }

// Woken passes on the output that is there, without waiting for more.
func (e *execStage) Woken(em *runner.Emitter) error {
	if e.ended {
		return nil
	}
	if err := e.advance(em, false); err != nil {
		return err
	}
	if e.outputOver() && e.isStopped() {
		// Stopped and the programs' output is over: no input event will
		// come to say so, the input may never end.
		return runner.ErrStop
	}
	return nil
}

// Finish closes the programs' stdin, passes on the rest of their output as
// it comes and checks how the programs ended.
func (e *execStage) Finish(em *runner.Emitter, kind wire.EOFKind) error {
	defer e.end()
	for _, k := range e.kids {
		k.closeInput()
		go k.giveUpOutput()
	}
	for {
		// Answers are flushed as they come: a program may go on long
		// after its input ended.
		if err := e.advance(em, true); err != nil {
			return err
		}
		if e.outputOver() {
			break
		}
		<-e.ready
	}
	for _, k := range e.kids {
		<-k.proc.exited
	}
	for _, k := range e.kids {
		if k.proc.byUs.Load() {
			// Only a stop signal's drain timeout ends a program that
			// Finish waits for.
			msg := fmt.Sprintf("%s did not end within the drain timeout (%s) after the stop signal; its process group was ended", k.label(), e.drain)
			if kind != wire.Stopped {
				// The input had ended: the EOF would say natural.
				return errors.New("program " + msg)
			}
			em.Warnf("stopped: %s", msg)
			return e.stoppedQueue(em)
		}
	}
	for _, k := range e.kids {
		var ee *exec.ExitError
		switch err := k.proc.waitErr; {
		case errors.As(err, &ee):
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return fmt.Errorf("program %s was killed by signal %d (%v)", k.label(), int(ws.Signal()), ws.Signal())
			}
			return fmt.Errorf("program %s exited with status %d", k.label(), ee.ExitCode())
		case err != nil:
			return fmt.Errorf("program %s: %w", k.label(), err)
		case k.readErr != nil:
			return k.readErr
		}
	}
	if e.isStopped() {
		return e.stoppedQueue(em)
	}
	if n := e.queue.len(); n > 0 {
		return fmt.Errorf("program %s left %d input events without an answer (--one-to-one)", e.unanswered(), n)
	}
	return nil
}

// unanswered names the program that left the first unanswered event.
func (e *execStage) unanswered() string {
	for _, p := range e.queue.items[e.queue.head:] {
		if p.held == nil {
			return e.kids[p.kid].label()
		}
	}
	return e.argv[0]
}

// stoppedQueue passes on the error events still queued (--one-to-one)
// after a stop: the events the programs were not given have no answer.
func (e *execStage) stoppedQueue(em *runner.Emitter) error {
	e.queue.items = slices.DeleteFunc(e.queue.items[e.queue.head:], func(p execPending) bool { return p.held == nil })
	e.queue.head = 0
	return e.merge(em)
}

// Abort ends the programs: the input broke, downstream is gone, or the
// stage failed.
func (e *execStage) Abort() {
	if e.started {
		e.end()
	}
}

// stop gives the programs no more input.
func (e *execStage) stop() {
	for _, k := range e.kids {
		k.stop()
	}
	e.stopOnce.Do(func() { close(e.stopC) })
}

func (e *execStage) isStopped() bool {
	select {
	case <-e.stopC:
		return true
	default:
		return false
	}
}

// end is the one way the stage is done with the programs, after Finish or
// on Abort: their stdin is closed, their process groups ended (SIGTERM,
// SIGKILL after execGrace), and the rest of their stderr copied, all within
// a bounded time.
func (e *execStage) end() {
	if e.ended {
		return
	}
	e.ended = true
	for _, k := range e.kids {
		k.closeInput()
		k.proc.end()
	}
	for _, k := range e.kids {
		<-k.proc.ended
	}
	giveUp := time.NewTimer(execGrace)
	defer giveUp.Stop()
	late := false
	for _, k := range e.kids {
		if !late {
			select {
			case <-k.stderrDone:
				continue
			case <-giveUp.C: // held by a process that left the group
				late = true
			}
		}
		select {
		case <-k.stderrDone:
		default:
			k.stderrR.Close()
			<-k.stderrDone
		}
	}
	for _, k := range e.kids {
		k.closeOutput()
	}
	close(e.over)
	for _, k := range e.kids {
		k.stderr.flush()
	}
}
