package stages

import (
	"slices"
	"time"
	"unsafe"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// windower holds agg's open windows: one table of groups per window, keyed
// by the window's start. Windows are aligned to the Unix epoch; a tumbling
// window is a hopping one whose slide is its size.
type windower struct {
	size, slide int64 // nanoseconds
	lateness    int64
	processing  bool
	now         func() time.Time

	panes  map[int64]*aggTable
	starts []int64 // open windows' starts, ascending

	// One watermark per input: the latest event time seen on it. The
	// stage's watermark is the least over the live inputs (those that
	// have not ended naturally), minus the lateness, so that a fan-in of
	// ordered inputs gives the same windows however their events
	// interleave on arrival.
	inputs []inputTime
	// closedTo is the watermark the windows were last closed up to
	// (closed: whether they were): an event whose window ends at or
	// before it is late.
	closedTo int64
	closed   bool
}

// inputTime is the event time seen so far on one input.
type inputTime struct {
	maxT  int64
	seen  bool
	wm    int64 // the latest watermark frame's time
	wmSet bool
	ended bool // ended naturally: it holds no window back
}

// mark is the input's watermark: its latest event time minus the
// lateness, or its latest watermark frame if that is later.
func (in *inputTime) mark(lateness int64) (int64, bool) {
	switch {
	case in.seen && in.wmSet:
		return max(in.maxT-lateness, in.wm), true
	case in.seen:
		return in.maxT - lateness, true
	case in.wmSet:
		return in.wm, true
	}
	return 0, false
}

func newWindower(o runner.Options) (*windower, error) {
	size, slide := o.Duration("window"), o.Duration("slide")
	tf, proc, late := o.String("time-field"), o.Bool("processing-time"), o.Duration("lateness")
	if size == 0 {
		if slide != 0 || tf != "" || proc || late != 0 {
			return nil, runner.Usagef("--slide, --time-field, --lateness and --processing-time need --window")
		}
		return nil, nil
	}
	switch {
	case size < 0 || slide < 0 || late < 0:
		return nil, runner.Usagef("--window, --slide and --lateness must be positive durations")
	case tf == "" && !proc:
		return nil, runner.Usagef("--window needs --time-field FIELD (event time) or --processing-time")
	case tf != "" && proc:
		return nil, runner.Usagef("--time-field and --processing-time exclude each other")
	case proc && late != 0:
		return nil, runner.Usagef("--lateness applies to event time, not --processing-time")
	case slide > size:
		return nil, runner.Usagef("--slide %v is longer than --window %v: events between windows would be lost", slide, size)
	}
	if slide == 0 {
		slide = size
	}
	return &windower{size: int64(size), slide: int64(slide), lateness: int64(late), processing: proc,
		now: time.Now, panes: map[int64]*aggTable{}, inputs: make([]inputTime, 1)}, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// watermark is the time before which windows are complete: the least
// latest event time over the live inputs, minus the lateness. ok is false
// while a live input has seen no event (nothing is complete yet) and when
// no input is live (every input ended: Finish closes what is open).
func (w *windower) watermark() (wm int64, ok bool) {
	for i := range w.inputs {
		in := &w.inputs[i]
		if in.ended {
			continue
		}
		m, seen := in.mark(w.lateness)
		if !seen {
			return 0, false
		}
		if !ok || m < wm {
			wm, ok = m, true
		}
	}
	return wm, ok
}

// advance closes the windows that the watermark has passed. The watermark
// never goes back.
func (w *windower) advance(emit func(start, end int64, t *aggTable) error) error {
	wm, ok := w.watermark()
	if !ok || w.closed && wm <= w.closedTo {
		return nil
	}
	w.closedTo, w.closed = wm, true
	return w.closeUpTo(wm, emit)
}

// pane returns the table of the window starting at start, opening it.
func (w *windower) pane(start int64) *aggTable {
	t := w.panes[start]
	if t == nil {
		t = newAggTable()
		w.panes[start] = t
		i, _ := slices.BinarySearch(w.starts, start)
		w.starts = slices.Insert(w.starts, i, start)
	}
	return t
}

// closeUpTo emits and drops, in order, the windows that end at or before wm.
func (w *windower) closeUpTo(wm int64, emit func(start, end int64, t *aggTable) error) error {
	for len(w.starts) > 0 && w.starts[0]+w.size <= wm {
		s := w.starts[0]
		t := w.panes[s]
		w.starts = w.starts[1:]
		delete(w.panes, s)
		if err := emit(s, s+w.size, t); err != nil {
			return err
		}
	}
	return nil
}

// closeAll emits and drops every open window, in order.
func (w *windower) closeAll(emit func(start, end int64, t *aggTable) error) error {
	for len(w.starts) > 0 {
		s := w.starts[0]
		t := w.panes[s]
		w.starts = w.starts[1:]
		delete(w.panes, s)
		if err := emit(s, s+w.size, t); err != nil {
			return err
		}
	}
	return nil
}

// eventTime reads an event time: an RFC 3339 string or epoch seconds.
func eventTime(raw []byte) (int64, bool) {
	if len(raw) >= 2 && raw[0] == '"' {
		t, err := time.Parse(time.RFC3339Nano, bytesString(raw[1:len(raw)-1]))
		return t.UnixNano(), err == nil
	}
	f, ok := expr.NumberValue(raw)
	if !ok || f > 9e9 || f < -9e9 {
		return 0, false
	}
	return int64(f * 1e9), true
}

func fmtTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

// bytesString views b as a string without copying, for parsing only: the
// string must not outlive b.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func appendTime(dst []byte, ns int64) []byte {
	dst = append(dst, '"')
	dst = time.Unix(0, ns).UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// appendBounds appends the window_start and window_end members.
func appendBounds(dst []byte, start, end int64) []byte {
	dst = append(dst, `"window_start":`...)
	dst = appendTime(dst, start)
	dst = append(dst, `,"window_end":`...)
	dst = appendTime(dst, end)
	return append(dst, ',')
}

// emitWindow returns the function that writes a closed window's groups.
// They have no parent: a window derives from all its events, and which
// event (or input's end) happened to close it depends on how the inputs of
// a fan-in interleaved, so it is left out to keep the output the same on
// every run.
func (g *agg) emitWindow(em *runner.Emitter, partial bool) func(start, end int64, t *aggTable) error {
	return func(start, end int64, t *aggTable) error {
		g.bounds = appendBounds(g.bounds[:0], start, end)
		cur := em.Parent()
		em.SetParent(nil)
		defer em.SetParent(cur)
		return g.emitTable(em, t, g.bounds, partial)
	}
}

// windowEvent adds the current event to the windows of its time, after
// closing the windows that its time completes.
func (g *agg) windowEvent(em *runner.Emitter) error {
	w := g.win
	var t int64
	if w.processing {
		t = w.now().UnixNano()
	} else {
		raw := g.vals[g.timeField]
		var ok bool
		if raw == nil {
			return runner.EventErrorf("type", "no event time: field %s is absent", g.fieldNames[g.timeField])
		}
		if t, ok = eventTime(raw); !ok {
			return runner.EventErrorf("type", "field %s is %s, not an RFC 3339 time or epoch seconds", g.fieldNames[g.timeField], clip(raw))
		}
		// Late means: a window the event belongs to was already closed by
		// the watermark (its end at or before it), as in Flink and Beam.
		// Windows close in order, so the event's first window tells; a
		// late event counts in none of its windows, so that every emitted
		// window is complete and no event counts in some windows only.
		if first := (floorDiv(t-w.size, w.slide) + 1) * w.slide; w.closed && first+w.size <= w.closedTo {
			wm := w.closedTo
			return runner.EventErrorf("late", "event time %s falls in window [%s, %s), already closed by the watermark %s (the least over the live inputs of their latest event time minus --lateness %v, or of their watermark frame)",
				fmtTime(t), fmtTime(first), fmtTime(first+w.size), fmtTime(wm), time.Duration(w.lateness))
		}
	}
	in := &w.inputs[min(em.Input(), len(w.inputs)-1)]
	if !in.seen || t > in.maxT {
		in.maxT, in.seen = t, true
	}
	if err := w.advance(g.emitWindow(em, false)); err != nil {
		return err
	}
	for k := floorDiv(t-w.size, w.slide) + 1; k*w.slide <= t; k++ {
		g.update(w.pane(k * w.slide))
	}
	return nil
}

// Interval is how often a processing-time agg wants Tick.
func (g *agg) Interval() time.Duration {
	if g.win == nil || !g.win.processing {
		return 0
	}
	return min(max(time.Duration(g.win.slide)/10, 10*time.Millisecond), time.Second)
}

// Tick closes the processing-time windows that the clock has passed.
func (g *agg) Tick(now time.Time, em *runner.Emitter) error {
	if g.win == nil || !g.win.processing {
		return nil
	}
	return g.win.closeUpTo(now.UnixNano(), g.emitWindow(em, false))
}

var _ runner.Ticker = (*agg)(nil)

// Watermark takes a watermark frame of an input (runner.WatermarkSink): no
// event older than its time is to come on that input, so with event-time
// windows it may close windows. Otherwise it is passed on.
func (g *agg) Watermark(f *wire.Frame, em *runner.Emitter) error {
	w := g.win
	if w == nil || w.processing {
		return em.Forward(f)
	}
	const maxSeconds = 9e9 // as eventTime, and within int64 nanoseconds
	in := &w.inputs[min(em.Input(), len(w.inputs)-1)]
	if t := int64(min(max(f.Time, -maxSeconds), maxSeconds) * 1e9); !in.wmSet || t > in.wm {
		in.wm, in.wmSet = t, true
	}
	return w.advance(g.emitWindow(em, false))
}

// Inputs sets up one watermark per input (runner.InputTracker).
func (g *agg) Inputs(n int) {
	if g.win != nil && n > 1 {
		g.win.inputs = make([]inputTime, n)
	}
}

// InputEnded takes an input that ended naturally out of the watermark: it
// holds no window back any more. One that stopped or broke keeps its
// watermark: the windows after it are not complete.
func (g *agg) InputEnded(i int, end wire.EOFKind, em *runner.Emitter) error {
	w := g.win
	if w == nil || w.processing || end != wire.Natural || i >= len(w.inputs) {
		return nil
	}
	w.inputs[i].ended = true
	return w.advance(g.emitWindow(em, false))
}
