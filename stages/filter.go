package stages

import (
	"io"
	"slices"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

var filterSpec = runner.Spec{
	Name:           "filter",
	Family:         runner.FamilyTransform,
	PassesPayloads: true,
	Summary:        "keep the events for which a jq expression is true",
	ArgsUsage:      "EXPR [FILE...]",
	Description: `Evaluates the jq expression EXPR on each event and keeps the event when an
output of EXPR is true (anything but false and null). The kept event's bytes
pass through unchanged. An event for which EXPR yields no output is dropped;
an event on which EXPR fails (e.g. comparing a string with .x.y of a number)
goes to the error lane with the error message, even after a true output.

filter keeps an event at most once: it is jq's select(EXPR) when EXPR has one
output, and first(select(EXPR)) when it has several. jq's select emits the
event once per true output, so on {"tags":["a","b"]}, filter '.tags[]' keeps
the event once where jq 'select(.tags[])' prints it twice; for jq's
behaviour, write map 'select(.tags[])'.

Common expressions run on a fast path that reads only the fields they use
from the event's bytes, with gojq's results; --explain says whether EXPR
does (and why not), --stats how many events each path answered
(docs/expressions.md).

` + jqHelp,
	Examples: `obz read testdata/orders.csv | obz filter '.amount > 50' -r
obz read testdata/orders.ndjson | obz filter '.country == "DE" and (.tags | index("vip"))' -r
obz filter 'has("coupon") | not' testdata/orders.ndjson -r
C=DE obz filter '.country == $ENV.C' testdata/orders.ndjson -r
obz filter '.amount > $min' --argjson min 50 testdata/orders.ndjson -r
obz filter '.id as $id | any($vips[]; . == $id)' --slurpfile vips testdata/vips.json testdata/orders.ndjson -r
obz filter --explain '.tags | any(. == "vip")'`,
	Flags:    append([]runner.Flag{explainFlag}, jqFlags...),
	PerEvent: exprPerEvent,
	New:      newFilter,
}

type filter struct {
	exprPath
	prog  *expr.Program
	files []string
}

func newFilter(o runner.Options) (runner.Stage, error) {
	args := o.Args()
	if len(args) == 0 {
		return nil, runner.Usagef("filter takes a jq expression (quote it), then the input files if any")
	}
	prog, err := compileJQ(o, args[0])
	if err != nil {
		return nil, err
	}
	return &filter{exprPath: newExprPath("filter", prog, o), prog: prog, files: slices.Clone(args[1:])}, nil
}

// InputFiles makes filter read its FILE arguments (runner.FileInputs).
func (f *filter) InputFiles() []string { return f.files }

func (f *filter) Event(ev *wire.Frame, em *runner.Emitter) error {
	f.prog.SetStderr(em.Stderr())
	f.prog.SetInputName(em.InputFile())
	return filterEval(f.prog, ev, em)
}

// NewWorker makes filter runner.Concurrent: obz parallel -j N -- filter
// answers events on N goroutines.
func (f *filter) NewWorker(stderr io.Writer) (runner.Worker, error) {
	return f.newWorker(stderr, filterEval)
}

// filterEval is filter's answer to one event, written to out.
func filterEval(prog *expr.Program, ev *wire.Frame, out exprOut) error {
	keep, err := prog.TestFrame(ev)
	if keep && (err == nil || err == expr.ErrHalt) {
		if eerr := out.Emit(ev.Payload); eerr != nil {
			return eerr
		}
	}
	return exprEventError(err)
}
