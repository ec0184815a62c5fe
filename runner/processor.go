package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/obz-dev/obz/wire"
)

// procState is the phase of a processor's run. It only moves forward:
//
//	preparing → reading → draining (stop signal) → ended → finishing → closed
//
// with any phase allowed to jump to closed through close, the one
// shutdown path.
type procState uint8

const (
	procPreparing procState = iota // Prepare, before any input is read
	procReading                    // reading the inputs, calling Event
	procDraining                   // a stop signal came: reading on to the end of input, within the drain timeout
	procEnded                      // reading is over: every input ended, the stage stopped reading, or the drain timed out
	procFinishing                  // Finish is called
	procClosed                     // the EOF is written, or downstream is gone
)

// outcome is how a run ends, as decided by processorRun.outcome.
type outcome uint8

const (
	outcomeOK     outcome = iota // Finish, then a natural or stopped EOF
	outcomeGone                  // downstream closed (| head): end quietly, exit 0
	outcomeFailed                // the stage failed: poison EOF
	outcomeBroken                // an input broke: no Finish, a truncated (or poison) EOF
)

// processorRun is one run of a Processor: the inputs it reads, the
// capabilities the stage has, and where the run is.
type processorRun struct {
	ctx  context.Context
	p    Processor
	em   *Emitter
	env  *Env
	name string

	state   procState
	endKind wire.EOFKind // the worst EOF kind of the inputs so far
	err     error        // why the run failed (first reason wins), errDownstreamGone included
	finErr  error        // Finish's *ErrorEventsError, returned after the EOF

	// The inputs: one reader goroutine per input hands batches over on ch
	// and gets them back on its free list.
	edges []*edge
	frees []chan *batch
	ch    chan *batch
	done  chan struct{} // closed when the run ends: the readers stop
	open  int           // inputs not ended yet
	mg    *merger       // the recorded merge order, if replaying one

	errSink ErrorSink
	tracker InputTracker
	wmSink  WatermarkSink
	inOrder InOrder
	conc    Concurrent  // with Env.Workers: the stage whose answers pool computes
	pool    *workerPool // nil when Event runs on the stage's goroutine

	receiptsFrom map[string]bool // writers of the receipts dropped from the inputs
	waker        Waker
	ticker       Ticker

	// What the read loop waits on besides input; nil channels never fire.
	stop   <-chan struct{}  // the context, until its stop signal is seen
	drain  <-chan time.Time // the drain timeout, once stopped
	wake   <-chan struct{}
	tick   <-chan time.Time
	stall  <-chan time.Time
	timers []*time.Ticker

	nIn, bytesIn uint64
}

func runProcessor(ctx context.Context, p Processor, em *Emitter, env *Env, name string) error {
	r := &processorRun{ctx: ctx, p: p, em: em, env: env, name: name, stop: ctx.Done()}
	defer r.release()
	if r.prepare() {
		r.start()
		r.read()
	}
	r.endInput()
	if r.outcome() == outcomeOK {
		r.finish()
	}
	return r.close()
}

// prepare calls the stage's Prepare, if it has one, and says whether input
// is to be read at all.
func (r *processorRun) prepare() bool {
	pr, ok := r.p.(Preparer)
	if !ok {
		return true
	}
	err := pr.Prepare(r.ctx, r.em)
	if errors.Is(err, ErrStop) {
		// The stage needs no input at all (head -n 0): end at once,
		// naturally, instead of waiting for a first event.
		r.state = procEnded
		return false
	}
	r.fail(err)
	return err == nil
}

// start sets up the inputs and their readers, and what else the read loop
// waits on.
func (r *processorRun) start() {
	r.state = procReading
	env := r.env
	inputs := env.Inputs
	if len(inputs) == 0 {
		inputs = []Input{{Name: "stdin", R: env.Stdin}}
	}
	perIn := batchesPerIn
	if r.env.Workers > 0 {
		conc, ok := r.p.(Concurrent)
		if !ok {
			r.fail(fmt.Errorf("%s cannot answer its events on several goroutines", r.name))
			return
		}
		// Every worker busy on a batch, one batch of answers being
		// emitted and one being read.
		perIn += 2 * r.env.Workers
		pool, err := startPool(conc, r.env.Workers, len(inputs)*(perIn+maxExtra), r.em.stderr)
		if err != nil {
			r.fail(err)
			return
		}
		pool.dealAll, pool.counters = r.env.DealAll, r.env.Counters
		r.conc, r.pool = conc, pool
	}
	// With workers, the readers run ahead of the stage by as many batches
	// as the workers can take: a channel of one would keep all but two
	// workers idle.
	r.ch = make(chan *batch, len(inputs)*(1+2*r.env.Workers))
	r.done = make(chan struct{})
	r.edges = make([]*edge, len(inputs))
	r.frees = make([]chan *batch, len(inputs))
	r.open = len(inputs)
	if len(inputs) > 1 && !env.InOrder {
		// Inputs read in order have no merge order to record.
		if env.Journal != nil {
			r.em.order = newOrderRecorder(len(inputs))
		}
		switch {
		case env.MergeOrder != nil:
			r.mg = newMerger(env.MergeOrder, len(inputs), r.em.Warnf)
			r.stall = r.every(stallCheck)
		case env.OrderedMerge:
			r.mg = newCanonicalMerger(len(inputs), r.em.Warnf)
			r.stall = r.every(stallCheck)
		}
	}
	inOrder := false
	for i, in := range inputs {
		r.edges[i] = &edge{name: in.Name, framed: in.Framed, file: in.Path}
		r.frees[i] = make(chan *batch, perIn+maxExtra)
		for range perIn {
			r.frees[i] <- &batch{in: i, ans: answers{file: in.Path}}
		}
		if in.Path != "" {
			inOrder = true
			continue
		}
		edge := in.Edge
		if edge == nil {
			edge = newPipeIn(in, r.name, env.MaxLine, env.ReplaceInvalidUTF8, r.readsMembers())
		}
		if !env.InOrder {
			go readInput(edge, in.Name, r.ch, r.frees[i], r.done, r.pool)
		}
	}
	if inOrder || env.InOrder {
		go r.readInOrder(inputs)
	}
	r.errSink, _ = r.p.(ErrorSink)
	r.wmSink, _ = r.p.(WatermarkSink)
	if r.tracker, _ = r.p.(InputTracker); r.tracker != nil {
		r.tracker.Inputs(len(inputs))
	}
	r.inOrder, _ = r.p.(InOrder)
	if r.waker, _ = r.p.(Waker); r.waker != nil {
		r.wake = r.waker.Wake()
	}
	if r.ticker, _ = r.p.(Ticker); r.ticker != nil && r.ticker.Interval() > 0 {
		r.tick = r.every(r.ticker.Interval())
	}
}

// readsMembers reports whether the processor reads its events' top-level
// fields (MemberReader).
func (r *processorRun) readsMembers() bool {
	m, ok := r.p.(MemberReader)
	return ok && m.ReadsMembers()
}

// readInOrder reads the inputs one after another, each to its end, as cat
// and jq read their files (Env.InOrder). A file that cannot be opened ends
// its input with that error; the next one is read all the same.
func (r *processorRun) readInOrder(inputs []Input) {
	for i, in := range inputs {
		var f *os.File
		var edge Inbound
		switch {
		case in.Path != "":
			var err error
			if f, err = os.Open(in.Path); err != nil {
				edge = failedInbound{err}
				break
			}
			edge = newPipeIn(Input{Name: in.Name, R: f}, r.name, r.env.MaxLine, r.env.ReplaceInvalidUTF8, r.readsMembers())
		case in.Edge != nil:
			edge = in.Edge
		default:
			edge = newPipeIn(in, r.name, r.env.MaxLine, r.env.ReplaceInvalidUTF8, r.readsMembers())
		}
		readInput(edge, in.Name, r.ch, r.frees[i], r.done, r.pool)
		if f != nil {
			f.Close()
		}
		select {
		case <-r.done:
			return
		default:
		}
	}
}

// failedInbound is an input that could not be opened.
type failedInbound struct{ err error }

func (f failedInbound) Read(*InBatch) error { return f.err }

// every returns the channel of a ticker that release stops.
func (r *processorRun) every(d time.Duration) <-chan time.Time {
	t := time.NewTicker(d)
	r.timers = append(r.timers, t)
	return t.C
}

// release stops the readers and the tickers, however the run ended.
func (r *processorRun) release() {
	if r.done != nil {
		close(r.done)
	}
	for _, t := range r.timers {
		t.Stop()
	}
}

// reading says whether the read loop goes on taking input.
func (r *processorRun) reading() bool {
	return (r.state == procReading || r.state == procDraining) && r.err == nil
}

// read is the read loop: it hands the inputs' frames to the stage until
// every input ended, the stage stops reading, or the run fails.
func (r *processorRun) read() {
	for r.open > 0 && r.reading() {
		if b, lo, hi := r.next(); b != nil {
			r.process(b, lo, hi)
		}
	}
}

// next waits for the next segment of input to process, frames [lo, hi) of
// b. It returns a nil b after anything else that happened while waiting: a
// tick, a wake-up, a stop signal, the drain timeout, a batch queued for the
// recorded merge order.
func (r *processorRun) next() (b *batch, lo, hi int) {
	if r.mg != nil {
		// The next segment in the recorded merge order, if its input has
		// arrived.
		if b, lo, hi = r.mg.next(); b != nil {
			return b, lo, hi
		}
	}
	select {
	case b = <-r.ch:
	case now := <-r.tick:
		r.onTick(now)
		return nil, 0, 0
	// A stop signal and the drain timeout count while input is busy too:
	// an upstream that keeps writing must not drain forever.
	case <-r.stop:
		r.stopSignal()
		return nil, 0, 0
	case <-r.drain:
		r.drainTimedOut()
		return nil, 0, 0
	default:
		// Input is idle: flush so that nothing waits in our buffer.
		if err := r.em.Flush(); err != nil {
			r.fail(err)
			return nil, 0, 0
		}
		idle := time.Now()
		select {
		case <-r.wake:
			r.hookResult(r.waker.Woken(r.em))
			return nil, 0, 0
		case now := <-r.tick:
			r.onTick(now)
			return nil, 0, 0
		case b = <-r.ch:
			r.env.Counters.WaitIn.Add(int64(time.Since(idle)))
		case now := <-r.stall:
			r.mg.check(now, r.frees)
			return nil, 0, 0
		case <-r.stop:
			r.stopSignal()
			return nil, 0, 0
		case <-r.drain:
			r.drainTimedOut()
			return nil, 0, 0
		}
	}
	if r.mg != nil {
		r.mg.add(b)
		return nil, 0, 0
	}
	return b, 0, len(b.Frames)
}

func (r *processorRun) onTick(now time.Time) {
	r.em.cur = nil
	r.hookResult(r.ticker.Tick(now, r.em))
}

// stopSignal: the context was cancelled (SIGINT/SIGTERM). Terminal input
// ends at once; other input is drained to its end, within the timeout.
func (r *processorRun) stopSignal() {
	r.stop = nil
	if r.env.InputIsTerminal {
		r.state = procEnded
		return
	}
	r.state = procDraining
	timeout := r.env.DrainTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	r.drain = time.After(timeout)
}

func (r *processorRun) drainTimedOut() {
	r.edges[0].problem("input did not end within the drain timeout after the stop signal")
	r.endKind = wire.Truncated
	r.state = procEnded
}

// process hands frames [lo, hi) of b to the stage: data events to Event,
// error events to the error lane, EOFs to their edge's contract, other
// control frames downstream. It gives b back to its reader once b is done
// with.
func (r *processorRun) process(b *batch, lo, hi int) {
	em, e, p := r.em, r.edges[b.in], r.p
	switch {
	case b.ans.pending:
		<-b.ans.ready // the workers' answers to the batch
		b.ans.pending = false
	case b.ans.inline:
		b.ans.answer(b, r.pool.own)
		b.ans.inline = false
	}
	em.inFile = e.file
	nIn, dups := r.nIn, e.dups
	em.in = b.in
	c := r.env.Counters
	start, waitOut := time.Now(), c.WaitOut.Load()
	stamped := 0 // events of the segment with a source time
	var err error
	i := lo
	for ; i < hi; i++ {
		f := &b.Frames[i]
		switch f.Kind {
		case wire.KindData:
			if !e.event(f) {
				f.Kind = kindDuplicate
				continue
			}
			nIn++
			if f.TS != 0 {
				stamped++
			}
			em.cur = f
			if r.pool != nil {
				err = r.conc.EmitAnswer(f, &b.ans.per[i], em)
			} else {
				err = p.Event(f, em)
			}
			if err != nil {
				err = eventError(err, em, r.name, f)
			}
		case wire.KindError:
			if f.Writer != localError && !e.event(f) {
				f.Kind = kindDuplicate
				continue
			}
			nIn++
			if f.Writer == localError {
				em.cur = nil
				if f.Err.Kind == "version" {
					// A newer upstream: none of its frames can be
					// checked, so the edge cannot end cleanly.
					e.problem("input line %d is a frame of a newer protocol version; upgrade obz", f.Line)
				}
			} else {
				em.cur = f
			}
			if r.inOrder != nil {
				err = r.inOrder.InOrder(f, em)
			} else if r.errSink != nil {
				// The sink counts the event (by kind too) where it
				// ends it: EmitError, ReportError or CountError.
				err = r.errSink.ErrorEvent(f, em)
			} else {
				err = em.EmitError(f.Err, f.Payload)
			}
		case wire.KindEOF:
			e.eof(f)
		case wire.KindOrder:
			// Journal-only: an upstream's merge order is its own.
		case wire.KindWatermark:
			switch {
			case r.wmSink != nil:
				em.cur = nil
				err = r.wmSink.Watermark(f, em)
			case r.inOrder != nil:
				err = r.inOrder.InOrder(f, em)
			default:
				err = em.forward(f)
			}
		case wire.KindReceipt:
			// A receipt stays with the sink that wrote it: one on an
			// input (forged, or a sink's --receipts) is not passed on
			// or journaled, where resume would take it for this
			// stage's or a downstream sink's.
			r.dropReceipt(f)
		default:
			if r.inOrder != nil {
				err = r.inOrder.InOrder(f, em)
			} else {
				err = em.forward(f)
			}
		}
		if err != nil {
			i++
			break
		}
	}
	if nIn > r.nIn {
		r.measure(b.Frames[lo:i], start, waitOut, stamped)
	}
	r.nIn = nIn
	if e.dups > dups {
		r.env.Counters.Duplicates.Add(e.dups - dups)
	}
	em.cur = nil
	if em.order != nil {
		em.order.add(b.in, b.Frames[lo:i])
	}
	switch {
	case err == ErrStop:
		r.state = procEnded
	case err != nil:
		r.fail(err)
	}
	if hi < len(b.Frames) && r.reading() {
		return // the rest of the batch waits its turn in the recorded order
	}
	r.bytesIn += uint64(b.Bytes)
	c.In.Store(r.nIn)
	c.BytesIn.Store(r.bytesIn)
	if b.end != nil && r.reading() {
		r.open--
		end := e.end(b.end)
		r.endKind = max(r.endKind, end)
		if r.tracker != nil {
			if err := r.tracker.InputEnded(b.in, end, em); err != nil {
				r.fail(err)
			}
		}
	}
	r.frees[b.in] <- b
}

// measure records the processing time of a segment of input that started
// at start, when the time blocked writing output stood at waitOut, and the
// end-to-end latency of its events with a source time (stamped of them).
func (r *processorRun) measure(frames []wire.Frame, start time.Time, waitOut int64, stamped int) {
	c := r.env.Counters
	now := time.Now()
	c.Proc.Observe(now.Sub(start) - time.Duration(c.WaitOut.Load()-waitOut))
	for i := 0; stamped > 0 && i < len(frames); i++ {
		if f := &frames[i]; f.Kind == wire.KindData && f.TS != 0 {
			c.E2E.Observe(sinceSource(f.TS, now))
			stamped--
		}
	}
}

// kindDuplicate marks a frame of a batch dropped as a duplicate, so that
// the merge order recorded leaves it out.
const kindDuplicate wire.Kind = 255

// endInput settles the EOF kind once reading is over.
func (r *processorRun) endInput() {
	if r.pool != nil {
		// Workers may be answering batches read ahead: they stop first.
		r.pool.stop()
	}
	if r.state == procReading || r.state == procDraining {
		r.state = procEnded
	}
	// A stop signal that came while input was busy, or together with its
	// end, stops the stage as surely as one seen while input was idle.
	if r.ctx.Err() != nil {
		r.endKind = max(r.endKind, wire.Stopped)
	}
	if len(r.problems()) > 0 {
		r.endKind = max(r.endKind, wire.Truncated)
	}
}

// finish calls the stage's Finish: every input ended cleanly.
func (r *processorRun) finish() {
	r.state = procFinishing
	err := r.p.Finish(r.em, r.endKind)
	var errEvents *ErrorEventsError
	if errors.As(err, &errEvents) {
		r.finErr = err
		return
	}
	r.fail(err)
}

// fail records why the run fails; the first reason wins, nil is none.
// hookResult takes what a stage's Woken or Tick returned: ErrStop ends its
// input as it does from Event (a stage that knows it will take no more
// input, such as exec after a stop signal, need not wait for another
// event); another error fails the run.
func (r *processorRun) hookResult(err error) {
	if err == ErrStop {
		if r.reading() {
			r.state = procEnded
		}
		return
	}
	r.fail(err)
}

func (r *processorRun) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// outcome is the one place that decides whether the run failed, and how.
func (r *processorRun) outcome() outcome {
	switch {
	case r.err == nil && r.endKind >= wire.Truncated:
		return outcomeBroken
	case r.err == nil:
		return outcomeOK
	case errors.Is(r.err, errDownstreamGone):
		return outcomeGone
	}
	return outcomeFailed
}

// problems lists what broke the input edges.
func (r *processorRun) problems() []string {
	var ps []string
	for _, e := range r.edges {
		ps = append(ps, e.problems...)
	}
	return ps
}

// close is the one shutdown path: it tells the stage to clean up if it
// did not finish, writes the EOF and returns what Run returns.
func (r *processorRun) close() error {
	from := r.state
	r.state = procClosed
	switch r.outcome() {
	case outcomeGone:
		// A stage that was finishing has committed what it could.
		if from != procFinishing {
			abort(r.p)
		}
		return nil
	case outcomeFailed:
		abort(r.p)
		kind := wire.Poison
		var broken *BrokenInputError
		if from == procPreparing && errors.As(r.err, &broken) {
			kind = wire.Truncated // a join's reference side broke
		}
		return r.em.failEOF(kind, r.err)
	case outcomeBroken:
		abort(r.p)
		problems := r.problems()
		if err := r.em.writeEOF(r.endKind); err != nil && !errors.Is(err, errDownstreamGone) {
			problems = append(problems, err.Error())
		}
		if len(problems) == 0 {
			problems = []string{"input ended with a " + r.endKind.String() + " EOF"}
		}
		return &BrokenInputError{Problems: problems}
	}
	if err := r.em.endEOF(r.endKind); err != nil {
		return err
	}
	if r.finErr != nil {
		return r.finErr
	}
	return r.em.errorEvents()
}

// dropReceipt notes, once per writer, that a receipt frame arrived on an
// input and was dropped.
func (r *processorRun) dropReceipt(f *wire.Frame) {
	if r.receiptsFrom == nil {
		r.receiptsFrom = map[string]bool{}
	}
	if r.receiptsFrom[f.Writer] {
		return
	}
	r.receiptsFrom[f.Writer] = true
	fmt.Fprintf(r.em.stderr, "obz %s: dropped receipt frames of %q on its input: a receipt belongs to the sink that wrote it, and is not passed on\n", r.name, f.Writer)
}

// eventError turns an *EventError from a stage into an error event; other
// errors are returned as they are. It is out of the event loop so that the
// loop does not allocate the errors.As target for every event.
func eventError(err error, em *Emitter, name string, f *wire.Frame) error {
	var ee *EventError
	if errors.As(err, &ee) {
		info := &wire.ErrorInfo{Kind: ee.Kind, Msg: ee.Msg, Stage: name}
		if f.Bare {
			info.Line = f.Line // a bare line: its line is where it came from
		} else {
			// A framed event is named by its writer and seq: its line
			// on this stage's input says nothing of where it came from,
			// and two merged inputs share line numbers.
			info.Event = wire.Ref{Writer: f.Writer, Seq: f.Seq}
		}
		return em.EmitError(info, f.Payload)
	}
	return err
}

func abort(p Processor) {
	if a, ok := p.(Aborter); ok {
		a.Abort()
	}
}
