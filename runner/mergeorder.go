package runner

import (
	"errors"
	"io"
	"time"

	"github.com/obz-dev/obz/wire"
)

// A stage with several inputs (fan-in) merges them as their batches
// arrive, so two runs of the same flow may interleave them differently.
// To make a replay reproducible the runner records the interleaving in the
// stage's journal (order frames, docs/wire.md), and a replay hands it back
// (MergeOrder) so that the runner consumes the inputs in that order.

// MergeOrder is the merge order a fan-in stage recorded in its journal
// (opened by replay.OpenMergeOrder: the runner does not import the journal
// package). Next returns the runs in order and io.EOF after the last; any
// other error means the record is damaged.
type MergeOrder interface {
	Next() (wire.Run, error)
}

// orderRecorder counts the data-lane frames the stage consumes, per
// writer, into runs; the Emitter writes the finished ones to the journal
// as an order frame with each journal batch, and the rest before the EOF
// (Emitter.flushJournal).
type orderRecorder struct {
	runs []wire.Run // since the last order frame written
	last []string   // per input: the last writer seen, for the reader's own error frames
}

func newOrderRecorder(inputs int) *orderRecorder {
	return &orderRecorder{last: make([]string, inputs)}
}

// add records that frames of input in were consumed.
func (r *orderRecorder) add(in int, frames []wire.Frame) {
	for i := range frames {
		f := &frames[i]
		w := f.Writer
		if w == localError {
			// An unreadable line belongs to no writer: count it with the
			// input's writer, so that a replay takes it from that input.
			if w = r.last[in]; w == "" {
				w = wire.BareWriter
			}
		} else {
			r.last[in] = w
		}
		if f.Kind != wire.KindData && f.Kind != wire.KindError {
			continue
		}
		if n := len(r.runs); n > 0 && r.runs[n-1].Writer == w {
			r.runs[n-1].N++
		} else {
			r.runs = append(r.runs, wire.Run{Writer: w, N: 1})
		}
	}
}

// appendFrame appends the order frame of writer to dst: the finished runs,
// or all of them when the stage ends, which it then forgets. The run still
// going on waits, so that a long run makes one order frame, not one per
// journal batch. dst is returned unchanged when there is nothing to write.
func (r *orderRecorder) appendFrame(dst []byte, writer string, all bool) []byte {
	if r == nil {
		return dst
	}
	n := len(r.runs) - 1
	if all {
		n++
	}
	if n <= 0 {
		return dst
	}
	dst = wire.AppendFrame(dst, &wire.Frame{Kind: wire.KindOrder, Writer: writer, Runs: r.runs[:n]})
	r.runs = r.runs[:copy(r.runs, r.runs[n:])]
	return dst
}

// merger makes the runner consume its inputs in a recorded order: batches
// are queued per input, and next hands out the segments of them that the
// recorded runs name. Once the order is exhausted (or cannot be followed)
// the rest is merged in arrival order.
//
// Memory stays bounded: the batches of an input that is not needed yet stay
// queued, and its reader blocks on its free list (backpressure). The input
// that is needed never lacks free batches, since its queue is empty while
// we wait for it. An input can still wait on another whose reader is
// blocked (two branches of one upstream): when nothing arrives for a while
// a full input gets extra batches, up to maxExtra; after that the runner
// waits stallLimit more, then gives up the recorded order.
type merger struct {
	order MergeOrder
	canon bool // the canonical order instead of a recorded one (nextCanonical)
	warn  func(format string, args ...any)

	run  wire.Run // the current run
	left uint64   // frames of it still to take
	done bool     // arrival order from now on

	queues  [][]*batch
	pos     []int  // the cursor in the head batch of each queue
	ended   []bool // the input's last batch was handed out
	extra   []int  // batches granted beyond batchesPerIn
	writers map[string]int
	shared  map[string]bool // writers seen on several inputs

	arrived bool      // a batch arrived since the last stall check
	stalled time.Time // since when nothing arrived with every buffer granted
}

const (
	maxExtra   = 60 // batches per input beyond batchesPerIn: ~120k frames
	stallCheck = 100 * time.Millisecond
	stallLimit = 5 * time.Second
)

func newMerger(order MergeOrder, inputs int, warn func(string, ...any)) *merger {
	return &merger{order: order, warn: warn, queues: make([][]*batch, inputs), pos: make([]int, inputs),
		ended: make([]bool, inputs), extra: make([]int, inputs), writers: map[string]int{}, shared: map[string]bool{}}
}

// newCanonicalMerger returns a merger of inputs in the canonical order
// (Env.OrderedMerge): it does not depend on when batches arrive.
func newCanonicalMerger(inputs int, warn func(string, ...any)) *merger {
	m := newMerger(nil, inputs, warn)
	m.canon = true
	return m
}

// add queues a batch that arrived and learns which input its writers are on.
func (m *merger) add(b *batch) {
	m.arrived = true
	m.stalled = time.Time{}
	if !m.done {
		last := ""
		for i := range b.Frames {
			w := b.Frames[i].Writer
			if w == localError || w == last {
				continue
			}
			last = w
			if in, ok := m.writers[w]; !ok {
				m.writers[w] = b.in
			} else if in != b.in {
				m.shared[w] = true
			}
		}
	}
	m.queues[b.in] = append(m.queues[b.in], b)
}

// next returns the next segment to process, frames [lo, hi) of b, or a nil
// b when it must wait for input. hi == len(b.Frames) when b is done with.
func (m *merger) next() (b *batch, lo, hi int) {
	if m.canon && !m.done {
		return m.nextCanonical()
	}
	for !m.done {
		if m.left == 0 {
			r, err := m.order.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					m.giveUp("reading the recorded merge order: %v", err)
				}
				m.done = true
				break
			}
			m.run, m.left = r, r.N
			continue
		}
		in, ok := m.writers[m.run.Writer]
		switch {
		case m.shared[m.run.Writer]:
			m.giveUp("writer '%s' of the recorded merge order is on several inputs", m.run.Writer)
			continue
		case !ok:
			if m.allEnded() {
				m.giveUp("the recorded merge order takes events from '%s', which is on none of the inputs", m.run.Writer)
				continue
			}
			return nil, 0, 0
		case len(m.queues[in]) == 0:
			if m.ended[in] {
				m.giveUp("the recorded merge order takes %d more events from '%s', but its input ended", m.left, m.run.Writer)
				continue
			}
			return nil, 0, 0
		}
		b, lo = m.queues[in][0], m.pos[in]
		hi = lo
		for ; hi < len(b.Frames) && m.left > 0; hi++ {
			if k := b.Frames[hi].Kind; k == wire.KindData || k == wire.KindError {
				m.left--
			}
		}
		if hi == len(b.Frames) {
			m.pop(in)
		} else {
			m.pos[in] = hi
		}
		return b, lo, hi
	}
	for in, q := range m.queues {
		if len(q) > 0 {
			b, lo = q[0], m.pos[in]
			m.pop(in)
			return b, lo, len(b.Frames)
		}
	}
	return nil, 0, 0
}

// nextCanonical is the ordered merge: it waits until every input that has
// not ended has a frame queued, then takes the input whose next data or
// error frame has the smallest seq, the first input on a tie, for as long
// as that stays so. Control frames (watermarks, EOFs) and the reader's own
// error frames go with the frames before them. The choice depends only on
// what the inputs carry, never on timing.
func (m *merger) nextCanonical() (*batch, int, int) {
	best, second := -1, -1
	var bk, sk uint64
	for in, q := range m.queues {
		if len(q) == 0 {
			if m.ended[in] {
				continue
			}
			return nil, 0, 0
		}
		b, pos := q[0], m.pos[in]
		if pos == len(b.Frames) {
			// The input's end, with no frame left before it.
			m.pop(in)
			return b, pos, pos
		}
		k := orderKey(&b.Frames[pos])
		switch {
		case best < 0 || k < bk:
			second, sk = best, bk
			best, bk = in, k
		case second < 0 || k < sk:
			second, sk = in, k
		}
	}
	if best < 0 {
		return nil, 0, 0
	}
	b, lo := m.queues[best][0], m.pos[best]
	hi := lo + 1
	for ; hi < len(b.Frames); hi++ {
		if k := orderKey(&b.Frames[hi]); second >= 0 && (k > sk || k == sk && best > second) {
			break
		}
	}
	if hi == len(b.Frames) {
		m.pop(best)
	} else {
		m.pos[best] = hi
	}
	return b, lo, hi
}

// orderKey is a frame's place in the canonical merge: a data or error
// frame's seq; 0 (at once) for control frames and unreadable lines.
func orderKey(f *wire.Frame) uint64 {
	if (f.Kind == wire.KindData || f.Kind == wire.KindError) && f.Writer != localError {
		return f.Seq
	}
	return 0
}

func (m *merger) pop(in int) {
	b := m.queues[in][0]
	m.queues[in][0] = nil
	m.queues[in] = m.queues[in][1:]
	m.pos[in] = 0
	if b.end != nil {
		m.ended[in] = true
	}
}

func (m *merger) allEnded() bool {
	for in := range m.queues {
		if !m.ended[in] && !m.endQueued(in) {
			return false
		}
	}
	return true
}

func (m *merger) endQueued(in int) bool {
	q := m.queues[in]
	return len(q) > 0 && q[len(q)-1].end != nil
}

func (m *merger) giveUp(format string, args ...any) {
	m.warn(format+"; the rest is merged in arrival order, so this replay may not reproduce the recorded order", args...)
	m.done = true
}

// check is called every stallCheck while the runner waits for input. When
// nothing arrived since the last check, the inputs whose readers are
// blocked on a full queue get one more batch each (an input we wait for
// may depend on them); when one is blocked at maxExtra and nothing arrives
// for stallLimit, the recorded order is given up rather than risk a
// deadlock.
func (m *merger) check(now time.Time, frees []chan *batch) {
	if m.done || m.arrived {
		m.arrived = false
		return
	}
	granted, blocked := false, false
	for in, q := range m.queues {
		if m.ended[in] || m.endQueued(in) || len(q) < batchesPerIn-1+m.extra[in] {
			continue
		}
		if m.extra[in] >= maxExtra {
			blocked = true
			continue
		}
		m.extra[in]++
		frees[in] <- &batch{in: in}
		granted = true
	}
	switch {
	case granted || !blocked:
		// Nobody waits on us: a slow input is only slow.
		m.stalled = time.Time{}
	case m.stalled.IsZero():
		m.stalled = now
	case now.Sub(m.stalled) >= stallLimit && m.canon:
		m.giveUp("waited %v for an event on every input (--merge ordered) while some inputs' buffers were full", stallLimit)
	case now.Sub(m.stalled) >= stallLimit:
		m.giveUp("waited %v for events of '%s' while the other inputs' buffers were full", stallLimit, m.run.Writer)
	}
}
