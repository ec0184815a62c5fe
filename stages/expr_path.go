package stages

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
	"github.com/obz-dev/obz/wire"
)

// explainFlag is filter's and map's --explain.
var explainFlag = runner.Flag{Name: "explain", Default: false,
	Usage: "print on stderr whether EXPR runs on the fast path or on gojq (and why), then stop without reading input"}

// exprPath tells the user which path runs a stage's expression: --explain
// before any input, and with --stats how many events each path answered.
type exprPath struct {
	stage   string
	prog    *expr.Program
	explain bool
	stats   bool
	// workers counts the events answered by workers (runner.Concurrent),
	// as they are emitted: events a worker answered ahead of a stop are
	// not counted, as one process does not answer them.
	workers *expr.PathStats
}

// ReadsMembers has the reader index a bare line's members where the
// expression reads fields from them (runner.MemberReader).
func (e exprPath) ReadsMembers() bool { return e.prog.ReadsFields() }

func newExprPath(stage string, prog *expr.Program, o runner.Options) exprPath {
	return exprPath{stage: stage, prog: prog, explain: o.Bool("explain"), stats: o.Bool("stats"), workers: &expr.PathStats{}}
}

// exprOut is where an expression's outputs go: the Emitter (Event) or a
// worker's Answer (runner.Concurrent), so that both run the same code.
type exprOut interface {
	Emit(payload []byte) error
}

// exprWorker evaluates a stage's expression on a worker's goroutine
// (runner.Concurrent) with a program of its own: eval is the stage's one
// evaluation code, the one its Event runs.
type exprWorker struct {
	prog *expr.Program
	eval func(prog *expr.Program, ev *wire.Frame, out exprOut) error
}

// newWorker builds the worker of runner.Concurrent for eval.
func (x exprPath) newWorker(stderr io.Writer, eval func(*expr.Program, *wire.Frame, exprOut) error) (runner.Worker, error) {
	prog, err := x.prog.Clone()
	if err != nil {
		return nil, err
	}
	prog.SetStderr(stderr)
	return &exprWorker{prog: prog, eval: eval}, nil
}

// Answer notes for --stats.
const (
	answeredFast uint8 = 1 + iota
	answeredGojq
)

func (w *exprWorker) Eval(ev *wire.Frame, a *runner.Answer) error {
	w.prog.SetInputName(a.InputFile())
	gojq := w.prog.Stats().Gojq
	err := w.eval(w.prog, ev, a)
	a.Note = answeredFast
	if w.prog.Stats().Gojq != gojq {
		a.Note = answeredGojq
	}
	return err
}

// EmitAnswer emits a worker's answer to ev in its place (runner.Concurrent).
func (x exprPath) EmitAnswer(ev *wire.Frame, a *runner.Answer, em *runner.Emitter) error {
	if a.Note == answeredGojq {
		x.workers.Gojq++
	} else {
		x.workers.Fast++
	}
	return a.EmitTo(em)
}

// Prepare prints the explanation and stops the stage with --explain.
func (x exprPath) Prepare(_ context.Context, em *runner.Emitter) error {
	if !x.explain {
		return nil
	}
	for _, line := range strings.SplitAfter(strings.TrimSuffix(x.prog.Explain(), "\n"), "\n") {
		if _, err := fmt.Fprintf(em.Stderr(), "obz %s: %s", x.stage, line); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintln(em.Stderr()); err != nil {
		return err
	}
	return runner.ErrStop
}

// report prints the per-path counts with --stats.
func (x exprPath) report(em *runner.Emitter) {
	if !x.stats {
		return
	}
	s := x.prog.Stats()
	s.Fast += x.workers.Fast
	s.Gojq += x.workers.Gojq
	note := ""
	if !x.prog.Fast() {
		note = " (the expression is outside the fast path's subset: see --explain)"
	}
	fmt.Fprintf(em.Stderr(), "obz %s: events answered by the fast path %d, by gojq %d%s\n", x.stage, s.Fast, s.Gojq, note)
}

func (x exprPath) Finish(em *runner.Emitter, _ wire.EOFKind) error {
	x.report(em)
	return nil
}

// exprPerEvent is filter's and map's PerEvent: each event is answered on its
// own, unless the stage reads input files itself (replicas read the events
// dealt to them on stdin: each would read the files whole).
func exprPerEvent(o runner.Options) error {
	if len(o.Args()) > 1 {
		return fmt.Errorf("it reads its input files itself: read them with obz read FILE... | obz parallel ... instead")
	}
	return nil
}
