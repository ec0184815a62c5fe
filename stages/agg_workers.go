package stages

import (
	"encoding/binary"
	"io"
	"math"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// agg as a runner.Concurrent (obz parallel -j N -- agg): most of an
// event's cost is reading it (finding the fields in the payload, parsing
// and checking the numbers, the canonical key), which needs no state. The
// workers do that for whole batches and record what they read as the
// event's one output; the stage's goroutine then takes the batches in input
// order and adds each event to its group (apply), as Event would. The
// groups stay in one table, met in input order, so the output (the groups'
// order, every sum's rounding, first and last) is one process's by
// construction, whatever the schedule (--every, --window included), and
// error events, watermarks and EOFs keep their place.
//
// A record holds, for each field: the value's place in the payload
// (offset+1, 0 when absent, and length), its number if the field is read
// as one, its canonical form's place in the scratch if it needs one; then
// the key's length, the key, the scratch.

// NewWorker reads events on a worker's goroutine: a copy of g's reading
// state, sharing its (read-only) options.
func (g *agg) NewWorker(io.Writer) (runner.Worker, error) {
	n := len(g.vals)
	return &aggWorker{g: &agg{
		keyNames: g.keyNames, accs: g.accs, fieldNames: g.fieldNames, x: g.x,
		numeric: g.numeric, canon: g.canon, timeField: g.timeField,
		vals: make([][]byte, n), nums: make([]float64, n), spans: make([][2]int, n),
	}}, nil
}

var _ runner.Concurrent = (*agg)(nil)

type aggWorker struct {
	g   *agg
	rec []byte
}

func (w *aggWorker) Eval(ev *wire.Frame, a *runner.Answer) error {
	g := w.g
	if err := g.read(ev.Payload, ev.Members); err != nil {
		return err
	}
	le := binary.LittleEndian
	r := w.rec[:0]
	for i, v := range g.vals {
		off := 0
		if v != nil {
			off = cap(ev.Payload) - cap(v) + 1 // v is a slice of the payload
		}
		r = le.AppendUint32(r, uint32(off))
		r = le.AppendUint32(r, uint32(len(v)))
		if g.numeric[i] {
			r = le.AppendUint64(r, math.Float64bits(g.nums[i]))
		}
		if g.canon[i] && v != nil {
			r = le.AppendUint32(r, uint32(g.spans[i][0]))
			r = le.AppendUint32(r, uint32(g.spans[i][1]))
		}
	}
	r = le.AppendUint32(r, uint32(len(g.key)))
	r = append(r, g.key...)
	r = append(r, g.scratch...)
	w.rec = r
	return a.Emit(r)
}

// EmitAnswer takes up what a worker read of ev and adds ev to its group.
func (g *agg) EmitAnswer(ev *wire.Frame, a *runner.Answer, em *runner.Emitter) error {
	if a.Outputs() == 0 {
		return a.Err()
	}
	le := binary.LittleEndian
	r := a.Output(0)
	for i := range g.vals {
		off, n := int(le.Uint32(r)), int(le.Uint32(r[4:]))
		r = r[8:]
		g.vals[i] = nil
		if off > 0 {
			g.vals[i] = ev.Payload[off-1 : off-1+n]
		}
		if g.numeric[i] {
			g.nums[i] = math.Float64frombits(le.Uint64(r))
			r = r[8:]
		}
		if g.canon[i] && off > 0 {
			g.spans[i] = [2]int{int(le.Uint32(r)), int(le.Uint32(r[4:]))}
			r = r[8:]
		}
	}
	n := int(le.Uint32(r))
	g.key = append(g.key[:0], r[4:4+n]...)
	g.scratch = append(g.scratch[:0], r[4+n:]...)
	return g.apply(em)
}
