package stages

import (
	"fmt"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// The programs' answers, passed on: as they come from the one program, or
// with --one-to-one in input order, each answer taken from the program the
// event was given to, error events and control frames of the input in
// their place among them.

// advance passes on the output that is there, as far as input order
// allows, without waiting for more; with flush, it flushes the output.
func (e *execStage) advance(em *runner.Emitter, flush bool) error {
	e.collect()
	if err := e.merge(em); err != nil {
		return err
	}
	if flush {
		return em.Flush()
	}
	return nil
}

// collect takes the batches the readers have sent. It never waits, and a
// reader never waits long for it: the stage's goroutine collects whenever
// it waits for anything else.
func (e *execStage) collect() {
	for _, k := range e.kids {
	more:
		for !k.eof {
			select {
			case b, ok := <-k.out:
				if !ok {
					k.eof = true
					break more
				}
				k.got = append(k.got, b)
				k.buffered += len(b.lines)
			default:
				break more
			}
		}
	}
}

// outputOver reports whether every program's output has ended and been
// collected.
func (e *execStage) outputOver() bool {
	for _, k := range e.kids {
		if !k.eof {
			return false
		}
	}
	return true
}

// merge passes on the collected lines: all of them, or with --one-to-one
// each as the answer to the event at the head of the queue while its
// program has answered it.
func (e *execStage) merge(em *runner.Emitter) error {
	cur := em.Parent()
	defer em.SetParent(cur)
	if !e.oneToOne {
		k := e.kids[0]
		em.SetParent(nil)
		for k.buffered > 0 {
			if err := e.emitLine(k, em); err != nil {
				return err
			}
		}
		return nil
	}
	for e.queue.len() > 0 {
		p := e.queue.front()
		if p.held != nil {
			em.SetParent(nil)
			if err := em.PassOn(p.held); err != nil {
				return err
			}
			e.queue.pop()
			continue
		}
		k := e.kids[p.kid]
		if k.buffered == 0 {
			break
		}
		e.parent = wire.Frame{Writer: p.ref.Writer, Seq: p.ref.Seq, TS: p.ts}
		e.queue.pop()
		k.owed--
		em.SetParent(&e.parent)
		if err := e.emitLine(k, em); err != nil {
			return err
		}
	}
	for _, k := range e.kids {
		if k.buffered > k.owed {
			return fmt.Errorf("program %s wrote more lines than it was given (--one-to-one)", k.label())
		}
	}
	return nil
}

// emitLine passes on k's next collected line, with em's parent.
func (e *execStage) emitLine(k *execChild, em *runner.Emitter) error {
	b := k.got[0]
	l := &b.lines[k.pos]
	var err error
	payload := slice(b.arena, l.span)
	if l.err == nil {
		err = em.Emit(payload)
	} else {
		info := *l.err
		info.Raw = slice(b.arena, l.raw)
		if len(e.kids) > 1 && info.Kind == "exec-output" && info.Line == k.passed+1 {
			// The line in this program's output: one program would
			// have written it as the passed+1-th line of all.
			info.Line = e.passed + 1
		}
		if info.Stage == "" {
			info.Stage = em.Name()
		}
		err = em.EmitError(&info, payload)
	}
	k.passed++
	e.passed++
	if k.pos++; k.pos == len(b.lines) {
		k.got[0] = nil
		k.got, k.pos = k.got[1:], 0
		select {
		case k.free <- b:
		default:
		}
	}
	k.buffered--
	return err
}

// execQueue is a first-in first-out queue of execPending that reuses its
// array: items[head:] are queued.
type execQueue struct {
	items []execPending
	head  int
}

func (q *execQueue) len() int { return len(q.items) - q.head }

func (q *execQueue) front() *execPending { return &q.items[q.head] }

func (q *execQueue) push(p execPending) {
	if len(q.items) == cap(q.items) && q.head >= len(q.items)/2 {
		// Full, and half of it taken: move the rest to the front
		// rather than grow (each item is moved once on average).
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, p)
}

func (q *execQueue) pop() {
	q.items[q.head] = execPending{}
	if q.head++; q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
}
