package runner

import (
	"io"
	"sync"

	"github.com/obz-dev/obz/wire"
)

// Concurrent is implemented by processors that answer each data event on
// its own, keeping nothing from one event to the next (filter, map), and
// by stateful processors whose per-event reading can be done apart from
// their state (agg, top, dedupe: their workers read the fields and check
// the numbers, the stage's goroutine updates the state in EmitAnswer, in
// input order). With
// Env.Workers > 0 the runner has the answers to each input batch computed
// by a pool of workers, each on a goroutine of its own, while the reader
// reads ahead; the stage's goroutine then takes the batches in input order,
// waits for a batch's answers and emits them with EmitAnswer, in the place
// where it would have called Event. Error events, watermarks, EOFs and the
// edge contracts stay on the stage's goroutine, so the output (and the
// journal) is byte for byte what Event gives.
type Concurrent interface {
	Processor
	// NewWorker builds an evaluator of the stage's events of its own (its
	// own compiled expression), used by one goroutine at a time. stderr is
	// where it may write (jq's debug); writes to it are serialized.
	NewWorker(stderr io.Writer) (Worker, error)
	// EmitAnswer is called on the stage's goroutine, in the event's place,
	// with what a worker answered to ev: it emits that (Answer.EmitTo) as
	// Event would have, and returns what Event would have returned.
	EmitAnswer(ev *wire.Frame, a *Answer, em *Emitter) error
}

// Worker answers data events into Answers, off the stage's goroutine.
type Worker interface {
	// Eval answers ev: it gives each output to a.Emit, in order, and
	// returns what Event would return (nil, an *EventError, ErrStop...).
	Eval(ev *wire.Frame, a *Answer) error
}

// Answer is a worker's answer to one data event, kept in storage that
// belongs to the event's batch (no allocation per event).
type Answer struct {
	set    *answers
	ev     *wire.Frame
	lo, hi int   // its outputs: set.spans[lo:hi]
	err    error // what Eval returned
	// Note is the stage's own: set by its Worker, read by its EmitAnswer
	// (filter and map note which path answered, for --stats).
	Note uint8
}

// span is one output of an answer in its batch's buffer; off < 0 means the
// event's own payload, passed on unchanged (so that the journal can refer
// to it as one process does, Spec.PassesPayloads).
type span struct{ off, end int }

// answers holds the answers to one batch's data events, by frame index.
type answers struct {
	buf   []byte
	spans []span
	per   []Answer
	file  string        // the file the batch was read from, for InputFile
	ready chan struct{} // a worker answered the batch
	// pending: the batch went to the workers; the stage's goroutine waits
	// on ready before it touches the batch.
	pending bool
	// inline: the batch did not go to the workers (the stage's goroutine
	// was keeping up): the stage's goroutine answers it itself.
	inline bool
}

// Emit records one output of the event (copied), as Emitter.Emit would
// write it.
func (a *Answer) Emit(payload []byte) error {
	s := a.set
	if len(payload) > 0 && len(payload) == len(a.ev.Payload) && &payload[0] == &a.ev.Payload[0] {
		s.spans = append(s.spans, span{off: -1})
	} else {
		off := len(s.buf)
		s.buf = append(s.buf, payload...)
		s.spans = append(s.spans, span{off: off, end: len(s.buf)})
	}
	a.hi = len(s.spans)
	return nil
}

// Outputs is the number of outputs the answer recorded.
func (a *Answer) Outputs() int { return a.hi - a.lo }

// Output is the answer's k-th output, valid until the batch is given back:
// a stateful stage's worker records there what it read from the event, for
// its EmitAnswer to take up (agg).
func (a *Answer) Output(k int) []byte {
	sp := a.set.spans[a.lo+k]
	if sp.off < 0 {
		return a.ev.Payload
	}
	return a.set.buf[sp.off:sp.end]
}

// Err is what Eval returned.
func (a *Answer) Err() error { return a.err }

// InputFile is Emitter.InputFile for the event answered.
func (a *Answer) InputFile() string { return a.set.file }

// EmitTo emits the outputs of the answer with em, whose event being handled
// is the answer's event, and returns what Eval returned.
func (a *Answer) EmitTo(em *Emitter) error {
	s := a.set
	for _, sp := range s.spans[a.lo:a.hi] {
		out := a.ev.Payload
		if sp.off >= 0 {
			out = s.buf[sp.off:sp.end]
		}
		if err := em.Emit(out); err != nil {
			return err
		}
	}
	return a.err
}

// answer has w answer the data events of b.
func (s *answers) answer(b *batch, w Worker) {
	if cap(s.buf) > bigBuffer {
		s.buf = nil
	}
	s.buf, s.spans = s.buf[:0], s.spans[:0]
	if cap(s.per) < len(b.Frames) {
		s.per = make([]Answer, len(b.Frames))
	}
	s.per = s.per[:len(b.Frames)]
	for i := range b.Frames {
		f := &b.Frames[i]
		if f.Kind != wire.KindData {
			continue
		}
		a := &s.per[i]
		*a = Answer{set: s, ev: f, lo: len(s.spans), hi: len(s.spans)}
		a.err = w.Eval(f, a)
	}
}

// workerPool answers the batches of a Concurrent stage on its workers'
// goroutines.
type workerPool struct {
	jobs chan *batch
	quit chan struct{}
	wg   sync.WaitGroup
	// own answers the batches that the stage's goroutine answers itself.
	own      Worker
	dealAll  bool      // Env.DealAll
	counters *Counters // Dealt and Inline, if not nil
}

// startPool starts n workers of p; queue bounds the batches waiting.
func startPool(p Concurrent, n, queue int, stderr io.Writer) (*workerPool, error) {
	ws := make([]Worker, n+1)
	lw := &lockedWriter{w: stderr}
	for i := range ws {
		w, err := p.NewWorker(lw)
		if err != nil {
			return nil, err
		}
		ws[i] = w
	}
	pool := &workerPool{jobs: make(chan *batch, queue), quit: make(chan struct{}), own: ws[n]}
	for _, w := range ws[:n] {
		pool.wg.Add(1)
		go pool.work(w)
	}
	return pool, nil
}

func (pool *workerPool) work(w Worker) {
	defer pool.wg.Done()
	for {
		select {
		case b := <-pool.jobs:
			b.ans.answer(b, w)
			b.ans.ready <- struct{}{}
		case <-pool.quit:
			return
		}
	}
}

// deal hands b to the workers, unless it has no data event or the stage's
// goroutine is keeping up: when no batch waits for it in out, handing b
// over would cost two goroutine wake-ups for nothing that the stage's
// goroutine could not do at once (a cheap stage: filter true, a join),
// so it answers b itself. A stage slower than its input has batches
// waiting, and those go to the workers. It returns false if done closed
// first.
func (pool *workerPool) deal(b *batch, out chan<- *batch, done <-chan struct{}) bool {
	if !hasData(b.Frames) {
		return true
	}
	if len(out) == 0 && !pool.dealAll {
		b.ans.inline = true
		if pool.counters != nil {
			pool.counters.Inline.Add(1)
		}
		return true
	}
	if pool.counters != nil {
		pool.counters.Dealt.Add(1)
	}
	return pool.send(b, done)
}

// send hands b to the workers; it returns false if done closed first.
func (pool *workerPool) send(b *batch, done <-chan struct{}) bool {
	if b.ans.ready == nil {
		b.ans.ready = make(chan struct{}, 1)
	}
	b.ans.pending = true
	select {
	case pool.jobs <- b:
		return true
	case <-done:
		return false
	}
}

// stop ends the workers and waits for them, so that nothing of the stage's
// workers runs during Finish.
func (pool *workerPool) stop() {
	close(pool.quit)
	pool.wg.Wait()
}

func hasData(frames []wire.Frame) bool {
	for i := range frames {
		if frames[i].Kind == wire.KindData {
			return true
		}
	}
	return false
}

// lockedWriter serializes the workers' writes to the stage's stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Replicated is implemented by stages that run their own replicas in one
// process: exec --one-to-one runs N copies of its program, deals them runs
// of events in turn and passes their answers on in input order. obz
// parallel (and replicas = N in a flow) asks them first, before starting
// replica processes.
type Replicated interface {
	Stage
	// Replicate sets up n replicas dealt batch events at a time; false if
	// the stage's options do not allow it.
	Replicate(n, batch int) bool
}
