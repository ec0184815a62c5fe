package stages

import (
	"context"
	"fmt"
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
}

// ReadsMembers has the reader index a bare line's members where the
// expression reads fields from them (runner.MemberReader).
func (e exprPath) ReadsMembers() bool { return e.prog.ReadsFields() }

func newExprPath(stage string, prog *expr.Program, o runner.Options) exprPath {
	return exprPath{stage: stage, prog: prog, explain: o.Bool("explain"), stats: o.Bool("stats")}
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
