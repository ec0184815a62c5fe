package stages

import (
	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var mapSpec = runner.Spec{
	Name:      "map",
	Family:    runner.FamilyTransform,
	Summary:   "transform each event with a jq expression (0..n outputs per event)",
	ArgsUsage: "EXPR",
	Description: `Evaluates the jq expression EXPR on each event and emits every output, in
order: one event can become none ("empty", "select(...)"), one, or many
(".items[]"). Outputs are encoded as jq does (gojq): object keys sorted,
numbers from the input kept as written, computed numbers in shortest form.
An event on which EXPR fails goes to the error lane with the error message;
outputs it produced before failing are kept.`,
	Examples: `obz read testdata/orders.csv | obz map '{id, country, amount}' -r
obz read testdata/orders.ndjson | obz map '.amount_eur = (.amount * 0.92)' -r
obz read testdata/orders.ndjson | obz map '.tags[]? | {tag: .}' -r`,
	New: newMap,
}

type mapStage struct{ prog *expr.Program }

func newMap(o runner.Options) (runner.Stage, error) {
	args := o.Args()
	if len(args) != 1 {
		return nil, runner.Usagef("map takes exactly one jq expression, got %d arguments (quote the expression)", len(args))
	}
	prog, err := compileExpr(args[0])
	if err != nil {
		return nil, err
	}
	return &mapStage{prog: prog}, nil
}

func (m *mapStage) Event(ev *wire.Frame, em *runner.Emitter) error {
	return exprEventError(m.prog.Outputs(ev.Payload, ev.Bare, em.Emit))
}

func (m *mapStage) Finish(*runner.Emitter, wire.EOFKind) error { return nil }
