package flow

import (
	"fmt"
	"time"

	"github.com/obz-dev/obz/wire"
)

// DefaultStallAfter is how long a running stage may go without progress
// before obz flow reports it (Options.StallAfter).
const DefaultStallAfter = 30 * time.Second

// Liveness is what the supervisor makes of a running stage's status lines.
type Liveness uint8

// The liveness of a stage.
const (
	// Live: it made progress (events in or out) or waited for input within
	// the stall time.
	Live Liveness = iota
	// Stalled: it has input to work on (it is not waiting for any) and
	// has made no progress for the stall time: a hung program under exec, a
	// stage stuck in a loop.
	Stalled
	// Backpressured: it has made no progress for the stall time because it
	// is blocked writing to its consumers.
	Backpressured
)

func (l Liveness) String() string {
	switch l {
	case Stalled:
		return "stalled"
	case Backpressured:
		return "backpressured"
	}
	return "live"
}

// stallWatch follows one stage's status lines. Liveness is a signal to the
// user (live view, metrics, events.ndjson), never a failure: a stage that
// stalls keeps running until it ends or the user stops the flow.
type stallWatch struct {
	after    time.Duration
	prev     wire.Status
	prevAt   time.Time
	progress time.Time // the last time it made progress or waited for input
	state    Liveness
	stalls   int // times it was reported stalled or backpressured
}

// observe takes a status line read at now and returns the stage's liveness
// and whether it changed. pending says whether it has input to work on
// (its inputs wrote events it has not read); a source never has: it is
// reported only when it is blocked writing.
func (w *stallWatch) observe(st wire.Status, now time.Time, pending bool) (Liveness, bool) {
	if w.prevAt.IsZero() {
		w.prev, w.prevAt, w.progress = st, now, now
		return w.state, false
	}
	dt := st.Elapsed - w.prev.Elapsed
	moved := st.In != w.prev.In || st.Out != w.prev.Out || st.Errors != w.prev.Errors
	waitedIn := dt > 0 && st.WaitIn-w.prev.WaitIn >= dt/2
	blockedOut := dt > 0 && st.WaitOut-w.prev.WaitOut >= dt/2
	w.prev, w.prevAt = st, now
	next := w.state
	switch {
	case moved || waitedIn:
		w.progress, next = now, Live
	case now.Sub(w.progress) < w.after:
	case blockedOut:
		next = Backpressured
	case pending:
		next = Stalled
	default:
		// Idle: nothing to read yet (an upstream is slow), or a source
		// waiting for its input to grow (read --follow).
		w.progress, next = now, Live
	}
	if next == w.state {
		return next, false
	}
	if next != Live {
		w.stalls++
	}
	w.state = next
	return next, true
}

// note is how the live view and obz flow's messages say it.
func (w *stallWatch) note(now time.Time) string {
	if w.state == Live {
		return ""
	}
	return fmt.Sprintf("%s, no progress for %s", w.state, now.Sub(w.progress).Round(time.Second))
}
