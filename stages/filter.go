package stages

import (
	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var filterSpec = runner.Spec{
	Name:      "filter",
	Family:    runner.FamilyTransform,
	Summary:   "keep the events for which a jq expression is true",
	ArgsUsage: "EXPR",
	Description: `Evaluates the jq expression EXPR on each event and keeps the event when an
output of EXPR is true (anything but false and null), like jq's select(EXPR).
The kept event's bytes pass through unchanged. An event for which EXPR
yields no output is dropped; an event on which EXPR fails (e.g. comparing a
string with .x.y of a number) goes to the error lane with the error message.`,
	Examples: `obz read testdata/orders.csv | obz filter '.amount > 50' -r
obz read testdata/orders.ndjson | obz filter '.country == "DE" and (.tags | index("vip"))' -r
cat testdata/orders.ndjson | obz filter 'has("coupon") | not' -r`,
	New: newFilter,
}

type filter struct{ prog *expr.Program }

func newFilter(o runner.Options) (runner.Stage, error) {
	args := o.Args()
	if len(args) != 1 {
		return nil, runner.Usagef("filter takes exactly one jq expression, got %d arguments (quote the expression)", len(args))
	}
	prog, err := compileExpr(args[0])
	if err != nil {
		return nil, err
	}
	return &filter{prog: prog}, nil
}

func (f *filter) Event(ev *wire.Frame, em *runner.Emitter) error {
	keep, err := f.prog.Test(ev.Payload, ev.Bare)
	if err != nil {
		return exprEventError(err)
	}
	if keep {
		return em.Emit(ev.Payload)
	}
	return nil
}

func (f *filter) Finish(*runner.Emitter, wire.EOFKind) error { return nil }
