package stages

import (
	"io"
	"slices"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var mapSpec = runner.Spec{
	Name:      "map",
	Family:    runner.FamilyTransform,
	Summary:   "transform each event with a jq expression (0..n outputs per event)",
	ArgsUsage: "EXPR [FILE...]",
	Description: `Evaluates the jq expression EXPR on each event and emits every output, in
order: one event can become none ("empty", "select(...)"), one, or many
(".items[]"). Outputs are encoded as jq does (gojq): object keys sorted,
numbers from the input kept as written, computed numbers in shortest form.
An event on which EXPR fails goes to the error lane with the error message;
outputs it produced before failing are kept.

Common expressions run on a fast path that reads only the fields they use
from the event's bytes, with gojq's results; --explain says whether EXPR
does (and why not), --stats how many events each path answered
(docs/expressions.md).

Strings come out as JSON, quoted: --text writes them as jq -r does, as
their text (no quotes, escapes decoded), for sort, cut and the like; -r
writes bare NDJSON instead of frames.

` + jqHelp,
	Examples: `obz read testdata/orders.csv | obz map '{id, country, amount}' -r
obz read testdata/orders.ndjson | obz map '.amount_eur = (.amount * 0.92)' -r
obz map '.tags[]? | {tag: .}' testdata/orders.ndjson -r
obz map '"\(.customer)\t\(.country)"' testdata/orders.ndjson --text | sort -u | head -n 3
obz map '{id, src: input_filename, by: $user}' --arg user "$USER" testdata/orders.ndjson -r
obz map '{id, note: $note}' --rawfile note README.md testdata/orders.ndjson -r | head -n 1
obz map --explain 'if .amount > 50 then "high" else "low" end'`,
	Flags:    append([]runner.Flag{explainFlag}, jqFlags...),
	PerEvent: exprPerEvent,
	New:      newMap,
}

type mapStage struct {
	exprPath
	prog  *expr.Program
	files []string
}

func newMap(o runner.Options) (runner.Stage, error) {
	args := o.Args()
	if len(args) == 0 {
		return nil, runner.Usagef("map takes a jq expression (quote it), then the input files if any")
	}
	prog, err := compileJQ(o, args[0])
	if err != nil {
		return nil, err
	}
	return &mapStage{exprPath: newExprPath("map", prog, o), prog: prog, files: slices.Clone(args[1:])}, nil
}

// InputFiles makes map read its FILE arguments (runner.FileInputs).
func (m *mapStage) InputFiles() []string { return m.files }

func (m *mapStage) Event(ev *wire.Frame, em *runner.Emitter) error {
	m.prog.SetStderr(em.Stderr())
	m.prog.SetInputName(em.InputFile())
	return mapEval(m.prog, ev, em)
}

// NewWorker makes map runner.Concurrent: obz parallel -j N -- map answers
// events on N goroutines.
func (m *mapStage) NewWorker(stderr io.Writer) (runner.Worker, error) {
	return m.newWorker(stderr, mapEval)
}

// mapEval is map's answer to one event, written to out.
func mapEval(prog *expr.Program, ev *wire.Frame, out exprOut) error {
	return exprEventError(prog.OutputsFrame(ev, out.Emit))
}
