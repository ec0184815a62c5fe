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
	Name    string // writer name in frames; the stage name if empty
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Inputs  []Input     // input edges; stdin if empty (fan-in when several)
	Outputs []io.Writer // output edges; stdout if empty (fan-out when several)

	Output  OutputMode
	Color   bool
	OnError ErrorPolicy
	MaxLine int // longest accepted input line; wire.DefaultMaxLine if 0

	// InputIsTerminal makes a stop signal end input at once instead of
	// draining it: a user typing events has nothing to drain.
	InputIsTerminal bool
	// DrainTimeout bounds the wait for input to end after a stop signal.
	DrainTimeout time.Duration

	Stats       bool      // print counters on stderr at the end
	Status      io.Writer // status channel (docs/wire.md), nil for none
	StatusEvery time.Duration

	Counters *Counters // filled while the stage runs; may be nil

	// Progress shows a progress line on stderr while the stage runs (see
	// progress.go); cmd/obz sets it only when stderr is a terminal.
	Progress bool

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

	// MergeOrder, if set on a stage with several inputs, is the merge
	// order a recorded run journaled: the inputs are consumed in that
	// order, then in arrival order (mergeorder.go).
	MergeOrder MergeOrder
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
	if env.Counters == nil {
		env.Counters = new(Counters)
	}
	outs := env.Outputs
	if len(outs) == 0 {
		outs = []io.Writer{env.Stdout}
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

	stopStatus := startStatus(env, name, start)
	var err error
	switch s := st.(type) {
	case Source:
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
		fmt.Fprintf(env.Stderr, "obz %s: in %d, out %d, errors %d, bytes in %d, bytes out %d, %.3fs\n",
			name, c.In.Load(), c.Out.Load(), c.Errors.Load(), c.BytesIn.Load(), c.BytesOut.Load(), time.Since(start).Seconds())
	}
	return err
}

func runSource(ctx context.Context, s Source, em *Emitter) error {
	err := s.Produce(ctx, em)
	em.cur = nil
	if em.silent {
		// Ended while catching up: what was re-produced goes to the
		// journal only, and when stopped the rest of the record too (the
		// consumers have it); the EOF goes out.
		if err == nil && ctx.Err() != nil {
			err = em.journalRest()
		}
		if ferr := em.Flush(); err == nil && ferr != nil {
			err = ferr
		}
		em.silent = false
	}
	if err == nil {
		err = em.endResume(ctx.Err() != nil)
	}
	if err != nil {
		if errors.Is(err, errDownstreamGone) {
			return nil
		}
		em.err = nil
		em.writeEOF(wire.Poison)
		return err
	}
	kind := wire.Natural
	if ctx.Err() != nil {
		kind = wire.Stopped
	}
	if err := em.writeEOF(kind); err != nil {
		if errors.Is(err, errDownstreamGone) {
			return nil
		}
		return err
	}
	if em.reported > 0 {
		return &ErrorEventsError{Count: em.reported, Where: "stderr"}
	}
	return nil
}

func runProcessor(ctx context.Context, p Processor, em *Emitter, env *Env, name string) error {
	readNothing := false
	if pr, ok := p.(Preparer); ok {
		if err := pr.Prepare(ctx, em); errors.Is(err, ErrStop) {
			// The stage needs no input at all (head -n 0): end at once,
			// naturally, instead of waiting for a first event.
			readNothing = true
		} else if err != nil {
			abort(p)
			em.err = nil
			kind := wire.Poison
			var broken *BrokenInputError
			if errors.As(err, &broken) {
				kind = wire.Truncated
			}
			em.writeEOF(kind)
			return err
		}
	}
	inputs := env.Inputs
	if len(inputs) == 0 {
		inputs = []Input{{Name: "stdin", R: env.Stdin}}
	}
	ch := make(chan *batch, len(inputs))
	done := make(chan struct{})
	defer close(done)
	edges := make([]*edge, len(inputs))
	frees := make([]chan *batch, len(inputs))
	var mg *merger
	var stallC <-chan time.Time
	if len(inputs) > 1 {
		if env.Journal != nil {
			em.order = newOrderRecorder(len(inputs))
		}
		if env.MergeOrder != nil {
			mg = newMerger(env.MergeOrder, len(inputs), em.Warnf)
			t := time.NewTicker(stallCheck)
			defer t.Stop()
			stallC = t.C
		}
	}
	for i, in := range inputs {
		edges[i] = &edge{name: in.Name, framed: in.Framed}
		frees[i] = make(chan *batch, batchesPerIn+maxExtra)
		for range batchesPerIn {
			frees[i] <- &batch{in: i}
		}
		if !readNothing {
			go readInput(i, in, name, env.MaxLine, ch, frees[i], done)
		}
	}
	errSink, _ := p.(ErrorSink)
	waker, _ := p.(Waker)
	var wake <-chan struct{}
	if waker != nil {
		wake = waker.Wake()
	}
	ticker, _ := p.(Ticker)
	var tick <-chan time.Time
	if ticker != nil && ticker.Interval() > 0 {
		t := time.NewTicker(ticker.Interval())
		defer t.Stop()
		tick = t.C
	}
	onTick := func(now time.Time) error {
		em.cur = nil
		return ticker.Tick(now, em)
	}
	c := env.Counters
	var nIn, bytesIn uint64
	open := len(inputs)
	if readNothing {
		open = 0
	}
	endKind := wire.Natural
	stopped, stopRead := false, false
	ctxDone := ctx.Done()
	var drain <-chan time.Time
	var fatal error

loop:
	for open > 0 {
		var b *batch
		stop, timedOut := false, false
		var lo, hi, i int
		if mg != nil {
			// The next segment in the recorded merge order, if its
			// input has arrived.
			if b, lo, hi = mg.next(); b != nil {
				goto process
			}
		}
		select {
		case b = <-ch:
		case now := <-tick:
			if fatal = onTick(now); fatal != nil {
				break loop
			}
			continue
		// A stop signal and the drain timeout count while input is busy
		// too: an upstream that keeps writing must not drain forever.
		case <-ctxDone:
			stop = true
		case <-drain:
			timedOut = true
		default:
			// Input is idle: flush so that nothing waits in our buffer.
			if fatal = em.Flush(); fatal != nil {
				break loop
			}
			idle := time.Now()
			select {
			case <-wake:
				if fatal = waker.Woken(em); fatal != nil {
					break loop
				}
				continue
			case now := <-tick:
				if fatal = onTick(now); fatal != nil {
					break loop
				}
				continue
			case b = <-ch:
				c.WaitIn.Add(int64(time.Since(idle)))
			case now := <-stallC:
				mg.check(now, frees)
				continue
			case <-ctxDone:
				stop = true
			case <-drain:
				timedOut = true
			}
		}
		if stop {
			ctxDone, stopped = nil, true
			if env.InputIsTerminal {
				break loop
			}
			timeout := env.DrainTimeout
			if timeout <= 0 {
				timeout = 10 * time.Second
			}
			drain = time.After(timeout)
			continue
		}
		if timedOut {
			edges[0].problem("input did not end within the drain timeout after the stop signal")
			endKind = wire.Truncated
			break loop
		}
		if mg != nil {
			mg.add(b)
			continue
		}
		hi = len(b.frames)
	process:
		for i = lo; i < hi; i++ {
			f := &b.frames[i]
			var err error
			switch f.Kind {
			case wire.KindData:
				nIn++
				edges[b.in].event(f)
				em.cur = f
				err = p.Event(f, em)
				if err != nil {
					err = eventError(err, em, name, f)
				}
			case wire.KindError:
				nIn++
				if f.Writer == localError {
					em.cur = nil
					if f.Err.Kind == "version" {
						// A newer upstream: none of its frames can be
						// checked, so the edge cannot end cleanly.
						edges[b.in].problem("input line %d is a frame of a newer protocol version; upgrade obz", f.Line)
					}
				} else {
					edges[b.in].event(f)
					em.cur = f
				}
				if errSink != nil {
					c.countKind(f.Err.Kind)
					err = errSink.ErrorEvent(f, em)
				} else {
					err = em.EmitError(f.Err, f.Payload)
				}
			case wire.KindEOF:
				edges[b.in].eof(f)
			case wire.KindOrder:
				// Journal-only: an upstream's merge order is its own.
			default:
				err = em.forward(f)
			}
			if err != nil {
				if err == ErrStop {
					stopRead = true
				} else {
					fatal = err
				}
				i++
				break
			}
		}
		em.cur = nil
		if em.order != nil {
			em.order.add(b.in, b.frames[lo:i])
		}
		if hi < len(b.frames) && !stopRead && fatal == nil {
			continue // the rest of the batch waits its turn in the recorded order
		}
		bytesIn += uint64(b.bytes)
		c.In.Store(nIn)
		c.BytesIn.Store(bytesIn)
		if b.end != nil && !stopRead && fatal == nil {
			open--
			endKind = max(endKind, edges[b.in].end(b.end))
		}
		frees[b.in] <- b
		if stopRead || fatal != nil {
			break
		}
	}

	var problems []string
	for _, e := range edges {
		problems = append(problems, e.problems...)
	}
	if fatal != nil {
		if errors.Is(fatal, errDownstreamGone) {
			abort(p)
			return nil
		}
		abort(p)
		em.err = nil
		em.writeEOF(wire.Poison)
		return fatal
	}
	// A stop signal that came while input was busy, or together with its
	// end, stops the stage as surely as one seen while input was idle.
	if stopped || ctx.Err() != nil {
		endKind = max(endKind, wire.Stopped)
	}
	if len(problems) > 0 {
		endKind = max(endKind, wire.Truncated)
	}
	if endKind >= wire.Truncated {
		abort(p)
		if err := em.writeEOF(endKind); err != nil && !errors.Is(err, errDownstreamGone) {
			problems = append(problems, err.Error())
		}
		if len(problems) == 0 {
			problems = []string{"input ended with a " + endKind.String() + " EOF"}
		}
		return &BrokenInputError{Problems: problems}
	}
	err := p.Finish(em, endKind)
	var errEvents *ErrorEventsError
	if err != nil && !errors.As(err, &errEvents) {
		if errors.Is(err, errDownstreamGone) {
			return nil
		}
		abort(p)
		em.err = nil
		em.writeEOF(wire.Poison)
		return err
	}
	if werr := em.writeEOF(endKind); werr != nil && !errors.Is(werr, errDownstreamGone) {
		return werr
	}
	if err != nil {
		return err
	}
	if em.reported > 0 {
		return &ErrorEventsError{Count: em.reported, Where: "stderr"}
	}
	return nil
}

// eventError turns an *EventError from a stage into an error event; other
// errors are returned as they are. It is out of the event loop so that the
// loop does not allocate the errors.As target for every event.
func eventError(err error, em *Emitter, name string, f *wire.Frame) error {
	var ee *EventError
	if errors.As(err, &ee) {
		return em.EmitError(&wire.ErrorInfo{Kind: ee.Kind, Msg: ee.Msg, Stage: name, Line: f.Line}, f.Payload)
	}
	return err
}

func abort(p Processor) {
	if a, ok := p.(Aborter); ok {
		a.Abort()
	}
}

// startStatus writes the status channel while the stage runs; the returned
// func writes the final line and stops it.
func startStatus(env *Env, name string, start time.Time) func(error) {
	if env.Status == nil {
		return func(error) {}
	}
	var mu sync.Mutex
	enc := json.NewEncoder(env.Status)
	write := func(state string, err error) {
		c := env.Counters
		s := wire.Status{Stage: name, State: state, In: c.In.Load(), Out: c.Out.Load(), Errors: c.Errors.Load(),
			BytesIn: c.BytesIn.Load(), BytesOut: c.BytesOut.Load(), Elapsed: time.Since(start).Seconds(),
			WaitIn: time.Duration(c.WaitIn.Load()).Seconds(), WaitOut: time.Duration(c.WaitOut.Load()).Seconds(),
			ErrorKinds: c.ErrorKinds()}
		if err != nil {
			s.Error = err.Error()
			var broken *BrokenInputError
			s.Broken = errors.As(err, &broken)
		}
		mu.Lock()
		enc.Encode(s)
		mu.Unlock()
	}
	every := env.StatusEvery
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
