package stages

import (
	"github.com/itchyny/gojq"
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
	Examples: `obz read testdata/orders.csv --infer | obz map '{id, country, amount}' -r
obz read testdata/orders.ndjson | obz map '.amount_eur = (.amount * 0.92)' -r
obz read testdata/orders.ndjson | obz map '.tags[]? | {tag: .}' -r`,
	New: newMap,
}

type mapStage struct {
	prog *jqProgram
	out  []byte // the fast path's output, reused
}

func newMap(o runner.Options) (runner.Stage, error) {
	args := o.Args()
	if len(args) != 1 {
		return nil, runner.Usagef("map takes exactly one jq expression, got %d arguments (quote the expression)", len(args))
	}
	prog, err := compileJQ(args[0])
	if err != nil {
		return nil, err
	}
	return &mapStage{prog: prog}, nil
}

func (m *mapStage) Event(ev *wire.Frame, em *runner.Emitter) error {
	if m.prog.fast != nil {
		out, n, ok := m.prog.fast.appendEvent(m.out[:0], ev.Payload, ev.Bare)
		m.out = out
		if ok {
			if n == 0 {
				return nil
			}
			return em.Emit(out)
		}
	}
	return m.prog.run(ev.Payload, func(v any) error {
		b, err := gojq.Marshal(v)
		if err != nil {
			return runner.EventErrorf("expr", "cannot encode output: %v", err)
		}
		return em.Emit(b)
	})
}

func (m *mapStage) Finish(*runner.Emitter, wire.EOFKind) error { return nil }
