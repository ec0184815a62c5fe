package parallel

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// DealWriter is the writer of the frames the coordinator deals to its
// replicas; their answers name it as parent, with the dealt seq.
const DealWriter = "obz-deal"

// DefaultBatch is the number of events dealt to a replica at a time.
const DefaultBatch = 256

// tickEvery: a batch that has been open this long goes to its replica
// even if it is not full, so that a slow input is not held back.
const tickEvery = 20 * time.Millisecond

// Config is one replicated stage.
type Config struct {
	Exe      string   // the obz binary the replicas run
	Stage    string   // the stage command: "map"
	Args     []string // its flags and arguments (no runner flags: the coordinator has those)
	Replicas int      // 1 or more
	By       string   // partition field; "" deals round robin
	Name     string   // the writer name of the output, which the replicas write too
	MaxLine  int      // --max-line, passed to the replicas
	Batch    int      // events per dealt batch; DefaultBatch if 0
}

// slot is one input event (or an error event or control frame the
// coordinator passes on itself), in input order.
type slot struct {
	rep   int32  // the replica that got it; -1 for a held frame
	local uint64 // its seq in the replica's input
	ref   wire.Ref
	ts    uint64 // its source time (wire.Frame.TS), passed on to its answers
	line  int64  // its line in the coordinator's input
	rline int64  // its line in the replica's input
	held  *wire.Frame
	key   uint64 // partitioned: the hash of its key
}

// Stage is the coordinator: a runner.Processor that deals its input to the
// replicas and merges their answers back in input order.
type Stage struct {
	cfg   Config
	reps  []*replica
	ready chan struct{}
	quit  chan struct{}

	slots []slot
	head  int

	next   int // round robin: the replica the open batch goes to
	open   int // events in the open batch
	opened int // ticks the open batch has been open

	x    *expr.Extractor
	vals [][]byte
	kbuf []byte
	key  uint64 // the hash of the last event's key

	// Partitioned: the index of the first event of each key (by hash)
	// that the stage took without an error, in input order: the order in
	// which one process would have met its groups. nDone counts the
	// events merged; failed says the event being merged got an error
	// answer.
	first  map[uint64]uint64
	nDone  uint64
	failed bool
	// Reading the key back from an end-of-input result: the field as a
	// path (top's events), or as one flat name (agg writes "a.b").
	outX, flatX *expr.Extractor

	parent  wire.Frame
	started bool
	over    bool
}

// New returns the coordinator of cfg; the replicas start with Prepare.
func New(cfg Config) *Stage {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	s := &Stage{cfg: cfg, ready: make(chan struct{}, 1), quit: make(chan struct{})}
	if cfg.By != "" {
		s.x = expr.NewExtractor([]expr.Path{expr.ParsePath(cfg.By)})
		s.flatX = expr.NewExtractor([]expr.Path{{strings.TrimPrefix(cfg.By, ".")}})
		s.vals = make([][]byte, 1)
		s.first = map[uint64]uint64{}
	}
	return s
}

// Prepare starts the replicas.
func (s *Stage) Prepare(_ context.Context, em *runner.Emitter) error {
	runner.CloseOnExecAll()
	s.started = true
	stderr := &lockedWriter{w: em.Stderr()}
	for i := range s.cfg.Replicas {
		r, err := start(&s.cfg, i+1, stderr, s.ready, s.quit)
		if err != nil {
			return err
		}
		s.reps = append(s.reps, r)
	}
	return nil
}

// Event deals ev to a replica.
func (s *Stage) Event(ev *wire.Frame, em *runner.Emitter) error {
	i := s.next
	if s.x != nil {
		i = s.partition(ev.Payload)
	}
	r := s.reps[i]
	if r.buf == nil {
		if err := s.take(r, em); err != nil {
			return err
		}
	}
	r.local++
	r.lines++
	r.dealt = true
	r.buf = r.enc.Append(r.buf, r.local, wire.Ref{}, ev.Payload)
	s.slots = append(s.slots, slot{rep: int32(i), local: r.local, ref: wire.Ref{Writer: ev.Writer, Seq: ev.Seq}, ts: ev.TS, line: ev.Line, rline: r.lines, key: s.key})
	if s.open++; s.open >= s.cfg.Batch {
		return s.endBatch(em)
	}
	return nil
}

// partition is the replica of the event's key: a hash of the canonical
// JSON of its partition field (absent is null, as agg, top and dedupe
// read keys).
func (s *Stage) partition(p []byte) int {
	s.key = s.keyHash(s.x, p)
	return int(s.key % uint64(len(s.reps)))
}

// keyHash is the FNV-1a hash of the canonical JSON of the field x reads
// from p (null when absent).
func (s *Stage) keyHash(x *expr.Extractor, p []byte) uint64 {
	v := jsonNull
	if x.Extract(p, s.vals) && s.vals[0] != nil {
		v = s.vals[0]
	}
	s.kbuf = expr.AppendCanonical(s.kbuf[:0], v)
	return fnv64a(s.kbuf)
}

var jsonNull = []byte("null")

// fnv64a is FNV-1a 64 of b (hash/fnv's, without its allocation per call).
func fnv64a(b []byte) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, c := range b {
		h ^= uint64(c)
		h *= prime
	}
	return h
}

// done notes that the event of sl is merged: the first of its key that
// the stage took without an error marks where one process met the key.
func (s *Stage) done(sl *slot) {
	if s.first != nil && !s.failed {
		if _, ok := s.first[sl.key]; !ok {
			s.first[sl.key] = s.nDone
		}
	}
	s.nDone++
	s.failed = false
}

// InOrder keeps an error event or a control frame of the input in its
// place: the coordinator passes it on itself once the answers to the
// events before it are out.
func (s *Stage) InOrder(f *wire.Frame, em *runner.Emitter) error {
	if err := s.endBatch(em); err != nil {
		return err
	}
	h := *f
	h.Payload = bytes.Clone(f.Payload)
	if f.Err != nil {
		info := *f.Err
		info.Raw = bytes.Clone(info.Raw)
		h.Err = &info
	}
	s.slots = append(s.slots, slot{rep: -1, held: &h})
	return s.merge(em, false)
}

// endBatch hands the open batch to its replicas, each with a marker.
func (s *Stage) endBatch(em *runner.Emitter) error {
	if s.open == 0 {
		return nil
	}
	s.open, s.opened = 0, 0
	for _, r := range s.reps {
		if !r.dealt {
			continue
		}
		r.dealt = false
		mark := wire.Frame{Kind: wire.KindWatermark, Writer: DealWriter, Time: float64(r.local)}
		r.buf = wire.AppendFrame(r.buf, &mark)
		r.lines++
		if err := s.hand(r, em); err != nil {
			return err
		}
	}
	s.next = (s.next + 1) % len(s.reps)
	return s.merge(em, false)
}

// take gets r an empty buffer to fill, merging while the replica is busy.
func (s *Stage) take(r *replica, em *runner.Emitter) error {
	for {
		select {
		case r.buf = <-r.free:
			return nil
		case <-s.ready:
			if err := s.merge(em, false); err != nil {
				return err
			}
		case <-r.feedDone:
			return s.feedFailed(r)
		}
	}
}

// hand gives r's buffer to its feeder, merging while the feeder is busy.
func (s *Stage) hand(r *replica, em *runner.Emitter) error {
	for {
		select {
		case r.feed <- r.buf:
			r.buf = nil
			return nil
		case <-s.ready:
			if err := s.merge(em, false); err != nil {
				return err
			}
		case <-r.feedDone:
			return s.feedFailed(r)
		}
	}
}

func (s *Stage) feedFailed(r *replica) error {
	return r.failure(fmt.Sprintf("stopped reading its input (%v)", r.feedErr))
}

// merge passes on the answers to the events in input order, as far as the
// replicas' output has come; with block set it waits for every answer.
func (s *Stage) merge(em *runner.Emitter, block bool) error {
	defer em.SetParent(nil)
	defer s.compact()
	for s.head < len(s.slots) {
		sl := &s.slots[s.head]
		if sl.rep < 0 {
			if err := em.PassOn(sl.held); err != nil {
				return err
			}
			sl.held = nil
			s.head++
			continue
		}
		r := s.reps[sl.rep]
		done, err := s.answer(r, sl, em, block)
		if err != nil {
			return err
		}
		if !done {
			return nil
		}
		s.done(sl)
		s.head++
	}
	return nil
}

// compact drops the slots the merge is done with, without moving a long
// queue often: the queue stays as long as the events in flight.
func (s *Stage) compact() {
	if s.head > 1024 && s.head*2 > len(s.slots) {
		n := copy(s.slots, s.slots[s.head:])
		clear(s.slots[n:])
		s.slots, s.head = s.slots[:n], 0
	}
}

// answer passes on r's answers to the event of sl, and says whether they
// are all out: r showed a later answer or a marker at or past the event.
func (s *Stage) answer(r *replica, sl *slot, em *runner.Emitter, block bool) (bool, error) {
	for {
		f, ended := r.peek(block)
		if ended {
			return false, s.broke(r, "ended its output before answering every event")
		}
		if f == nil {
			return false, nil
		}
		switch f.Kind {
		case wire.KindWatermark:
			if f.Writer == DealWriter {
				if uint64(f.Time) >= sl.local {
					return true, nil
				}
				r.take()
				continue
			}
			if err := em.PassOn(f); err != nil {
				return false, err
			}
			r.take()
		case wire.KindData, wire.KindError:
			if f.Parent.Writer != DealWriter {
				return false, r.failure(fmt.Sprintf("wrote an event (seq %d) that answers no input event: %s cannot run as replicas", f.Seq, s.cfg.Stage))
			}
			switch {
			case f.Parent.Seq > sl.local:
				return true, nil
			case f.Parent.Seq < sl.local:
				return false, r.failure(fmt.Sprintf("answered input event %d after event %d: out of order", f.Parent.Seq, sl.local))
			}
			if err := s.emit(f, sl, em); err != nil {
				return false, err
			}
			r.take()
		case wire.KindEOF:
			r.take()
			return false, s.broke(r, "ended its output before answering every event")
		default:
			r.take()
		}
	}
}

// emit passes on one answer to the event of sl, with the event as parent.
func (s *Stage) emit(f *wire.Frame, sl *slot, em *runner.Emitter) error {
	s.parent = wire.Frame{Writer: sl.ref.Writer, Seq: sl.ref.Seq, TS: sl.ts}
	em.SetParent(&s.parent)
	if f.Kind == wire.KindData {
		return em.Emit(f.Payload)
	}
	s.failed = true
	info := *f.Err
	switch {
	case info.Stage != s.cfg.Name:
	case info.Kind == "exec-output" && info.Line == int64(sl.local):
		// exec --one-to-one numbers its program's output lines, one per
		// event given to it: one process would have given this event as
		// the nDone+1-th (error events are not given to the program).
		info.Line = int64(s.nDone + 1)
	case info.Event.Writer == DealWriter:
		// The stage named the dealt event it failed on: name the event as
		// one process would, by its line when it came bare, else by its
		// writer and seq.
		info.Event = wire.Ref{}
		if sl.ref.Writer == wire.BareWriter {
			info.Line = sl.line
		} else {
			info.Event = sl.ref
		}
	case info.Line == sl.rline:
		// The stage's own error on the event names its line in the
		// replica's input: give the line in ours, as one process would.
		info.Line = sl.line
	}
	return em.EmitError(&info, f.Payload)
}

// broke is the failure of a replica whose output ended too soon or broke.
func (s *Stage) broke(r *replica, what string) error {
	problems := r.checked.Problems()
	if r.readErr != nil {
		problems = append(problems, r.readErr.Error())
	}
	if r.eof != nil && r.eof.EOF != wire.Natural && r.eof.EOF != wire.Stopped {
		what = fmt.Sprintf("failed (%s EOF after %d events)", r.eof.EOF, r.eof.Count)
	}
	for _, p := range problems {
		what += "; " + p
	}
	return r.failure(what)
}

// Wake is signalled when a replica wrote more output.
func (s *Stage) Wake() <-chan struct{} { return s.ready }

// Woken passes on what the replicas answered.
func (s *Stage) Woken(em *runner.Emitter) error { return s.merge(em, false) }

// Interval: see tickEvery.
func (s *Stage) Interval() time.Duration { return tickEvery }

// Tick hands on a batch that has been open for a tick.
func (s *Stage) Tick(_ time.Time, em *runner.Emitter) error {
	if s.open == 0 {
		return nil
	}
	if s.opened++; s.opened < 2 {
		return nil
	}
	return s.endBatch(em)
}

// Finish ends the replicas' input with an EOF of the input's kind, passes
// on every answer, then what the replicas wrote at the end of their input,
// replica by replica, and checks that each ended well.
func (s *Stage) Finish(em *runner.Emitter, end wire.EOFKind) error {
	if err := s.endBatch(em); err != nil {
		return err
	}
	for _, r := range s.reps {
		if r.buf == nil {
			if err := s.take(r, em); err != nil {
				return err
			}
		}
		eof := wire.Frame{Kind: wire.KindEOF, Writer: DealWriter, Count: r.local, EOF: end}
		r.buf = wire.AppendFrame(r.buf, &eof)
		if err := s.hand(r, em); err != nil {
			return err
		}
		r.closeFeed()
	}
	if err := s.merge(em, true); err != nil {
		return err
	}
	if err := s.results(em); err != nil {
		return err
	}
	for _, r := range s.reps {
		if err := s.ended(r); err != nil {
			return err
		}
	}
	s.over = true
	return nil
}

// results passes on what the replicas wrote after their answers (an
// aggregate's groups): replica by replica, or partitioned in the order one
// process meets their keys (the key's first event taken without an error);
// a result whose key cannot be read back comes after those that can.
func (s *Stage) results(em *runner.Emitter) error {
	em.SetParent(nil)
	order := make([]uint64, len(s.reps))
	known := make([]bool, len(s.reps))
	for {
		best := -1
		for i, r := range s.reps {
			f, err := s.result(r, em)
			if err != nil {
				return err
			}
			if f == nil {
				continue
			}
			if s.first == nil {
				best = i
				break
			}
			if !known[i] {
				order[i], known[i] = s.resultOrder(f), true
			}
			if best < 0 || order[i] < order[best] {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		r := s.reps[best]
		f := &r.cur.frames[r.pos]
		var err error
		if f.Kind == wire.KindData {
			err = em.Emit(f.Payload)
		} else {
			err = em.EmitError(f.Err, f.Payload)
		}
		if err != nil {
			return err
		}
		r.take()
		known[best] = false
	}
}

// result returns r's next result (a data or error frame), passing on or
// taking what comes before it; nil at the end of r's output.
func (s *Stage) result(r *replica, em *runner.Emitter) (*wire.Frame, error) {
	for {
		f, ended := r.peek(true)
		if ended {
			return nil, nil
		}
		switch f.Kind {
		case wire.KindData, wire.KindError:
			return f, nil
		case wire.KindWatermark:
			if f.Writer != DealWriter {
				if err := em.PassOn(f); err != nil {
					return nil, err
				}
			}
		}
		r.take()
	}
}

// resultOrder is where one process would have put the result f: the index
// of the first event of its key, read back from it.
func (s *Stage) resultOrder(f *wire.Frame) uint64 {
	if f.Kind != wire.KindData {
		return math.MaxUint64
	}
	for _, x := range []*expr.Extractor{s.x, s.flatX} {
		if !x.Extract(f.Payload, s.vals) || s.vals[0] == nil {
			continue
		}
		if i, ok := s.first[s.keyHash(x, f.Payload)]; ok {
			return i
		}
	}
	return math.MaxUint64
}

// ended checks how r ended: its EOF, its output's contract, its exit.
func (s *Stage) ended(r *replica) error {
	kind := r.checked.End(io.EOF)
	if r.readErr != nil || kind >= wire.Truncated || r.eof == nil {
		return s.broke(r, "broke its output")
	}
	<-r.exited
	if r.waitErr != nil {
		return r.failure("failed")
	}
	select { // what it said goes out before the stage ends
	case <-r.logged:
	case <-time.After(2 * time.Second):
	}
	return nil
}

// Abort ends the replicas at once: the stage failed or its input broke.
func (s *Stage) Abort() {
	if !s.started || s.over {
		return
	}
	s.over = true
	close(s.quit)
	for _, r := range s.reps {
		r.kill()
		r.closeFeed()
	}
	for _, r := range s.reps {
		<-r.exited
	}
}
