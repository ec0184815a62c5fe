package stages

import (
	"context"

	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var headSpec = runner.Spec{
	Name:           "head",
	Family:         runner.FamilyTransform,
	PassesPayloads: true,
	Summary:        "pass the first N data events, then end",
	Description: `Passes the first N data events through unchanged, writes a natural EOF and
stops reading: upstream stages see their output closed and end quietly.
Error events are passed on as always and do not count towards N.`,
	Examples: `obz read testdata/orders.ndjson | obz head -n 3 -r
obz read testdata/orders.csv | obz head -n 1`,
	Flags: []runner.Flag{
		{Name: "lines", Short: "n", Usage: "number of data events to pass", Default: 10},
	},
	New: newHead,
}

type head struct{ n, seen int }

func newHead(o runner.Options) (runner.Stage, error) {
	if len(o.Args()) > 0 {
		return nil, runner.Usagef("head takes no arguments (did you mean -n %s?)", o.Args()[0])
	}
	n := o.Int("lines")
	if n < 0 {
		return nil, runner.Usagef("head -n must be 0 or more, got %d", n)
	}
	return &head{n: n}, nil
}

// Prepare ends head -n 0 before it reads anything: like head(1), it must
// not wait for a first event that may never come.
func (h *head) Prepare(context.Context, *runner.Emitter) error {
	if h.n == 0 {
		return runner.ErrStop
	}
	return nil
}

func (h *head) Event(ev *wire.Frame, em *runner.Emitter) error {
	if h.seen >= h.n {
		return runner.ErrStop
	}
	h.seen++
	if err := em.Emit(ev.Payload); err != nil {
		return err
	}
	if h.seen >= h.n {
		return runner.ErrStop
	}
	return nil
}

func (h *head) Finish(*runner.Emitter, wire.EOFKind) error { return nil }
