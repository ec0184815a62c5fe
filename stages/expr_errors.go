package stages

import (
	"errors"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
)

// compileExpr compiles a stage's jq expression; one that does not compile
// is a usage error (exit 2).
func compileExpr(src string) (*expr.Program, error) {
	p, err := expr.Compile(src)
	if err != nil {
		return nil, &runner.UsageError{Msg: err.Error()}
	}
	return p, nil
}

// exprEventError turns an *expr.EvalError into an *runner.EventError, so the
// event goes to the error lane; other errors (the emitter's) are returned as
// they are.
func exprEventError(err error) error {
	if ee, ok := errors.AsType[*expr.EvalError](err); ok {
		return &runner.EventError{Kind: ee.Kind, Msg: ee.Msg}
	}
	return err
}
