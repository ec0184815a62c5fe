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
outputs it produced before failing are kept.
Common expressions run on a fast path that reads only the fields they use
from the event's bytes, with gojq's results; --explain says whether EXPR
does (and why not), --stats how many events each path answered
(docs/expressions.md).`,
	Examples: `obz read testdata/orders.csv --infer | obz map '{id, country, amount}' -r
obz read testdata/orders.ndjson | obz map '.amount_eur = (.amount * 0.92)' -r
obz read testdata/orders.ndjson | obz map '.tags[]? | {tag: .}' -r
obz map --explain 'if .amount > 50 then "high" else "low" end'`,
	Flags: []runner.Flag{explainFlag},
	New:   newMap,
}

type mapStage struct {
	exprPath
	prog *expr.Program
}

func newMap(o runner.Options) (runner.Stage, error) {
	args := o.Args()
	if len(args) != 1 {
		return nil, runner.Usagef("map takes exactly one jq expression, got %d arguments (quote the expression)", len(args))
	}
	prog, err := compileExpr(args[0])
	if err != nil {
		return nil, err
	}
	return &mapStage{exprPath: newExprPath("map", prog, o), prog: prog}, nil
}

func (m *mapStage) Event(ev *wire.Frame, em *runner.Emitter) error {
	return exprEventError(m.prog.Outputs(ev.Payload, ev.Bare, em.Emit))
}
