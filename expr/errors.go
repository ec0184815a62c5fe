package expr

import (
	"errors"
	"fmt"
)

// CompileError is an expression that does not parse or compile. A stage
// reports it as a usage error: the expression is the user's argument.
type CompileError struct {
	Expr string // the expression as given
	Err  error  // gojq's parse or compile error
	// Syntax is set when the expression does not parse; Offset and Token
	// then say where the parser stopped.
	Syntax bool
	Offset int
	Token  string
}

func (e *CompileError) Error() string {
	if e.Syntax {
		return fmt.Sprintf("bad jq expression %q: %v (at offset %d, near %q)", e.Expr, e.Err, e.Offset, e.Token)
	}
	return fmt.Sprintf("bad jq expression %q: %v", e.Expr, e.Err)
}

func (e *CompileError) Unwrap() error { return e.Err }

// EvalError is an expression that fails on one event. A stage reports it as
// an error event holding that event, of the same Kind, and goes on with the
// next one.
type EvalError struct {
	// Kind is "parse" when the payload is not valid JSON, and "expr" when
	// the expression fails on it (a runtime error, error(v), an output
	// that cannot be encoded).
	Kind string
	Msg  string
}

func (e *EvalError) Error() string { return e.Kind + ": " + e.Msg }

// ErrHalt is returned by Test and Outputs when the expression calls halt,
// which ends jq with status 0. A stage takes it as the end of its input,
// as head -n does: the outputs before it are kept, no more events are read.
var ErrHalt = errors.New("halt: the expression stopped the input")
