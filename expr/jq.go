package expr

import (
	"fmt"

	"github.com/itchyny/gojq"
	jsoniter "github.com/json-iterator/go"
)

// payloadJSON decodes payloads for gojq: numbers stay json.Number so that
// integers of any size and the input's number literals survive.
var payloadJSON = jsoniter.Config{UseNumber: true, EscapeHTML: false}.Froze()

// Program is a jq expression compiled once for a stage. It keeps per-event
// scratch state, so it is not safe for concurrent use (a stage runs one
// event at a time).
type Program struct {
	src  string
	code *gojq.Code
	fast *fastProgram // nil when the expression is outside the fast path's subset
	out  []byte       // the fast path's output, reused
	// slowWhy says why the expression is outside the fast path's subset.
	slowWhy string
	stats   PathStats
}

// Compile parses and compiles expr. An expression that does not parse or
// compile is a *CompileError that points at the problem.
func Compile(expr string) (*Program, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		ce := &CompileError{Expr: expr, Err: err}
		if pe, ok := err.(interface{ Token() (string, int) }); ok {
			ce.Syntax = true
			ce.Token, ce.Offset = pe.Token()
		}
		return nil, ce
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, &CompileError{Expr: expr, Err: err}
	}
	fast, why := compileFast(q)
	return &Program{src: expr, code: code, fast: fast, slowWhy: why}, nil
}

// run decodes payload and calls yield with each output of the expression. A
// decode failure or a runtime error is returned as an *EvalError.
func (p *Program) run(payload []byte, yield func(v any) error) error {
	var in any
	if err := payloadJSON.Unmarshal(payload, &in); err != nil {
		return &EvalError{Kind: "parse", Msg: fmt.Sprintf("payload is not valid JSON: %v", err)}
	}
	iter := p.code.Run(in)
	for {
		v, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, ok := v.(error); ok {
			if he, ok := err.(*gojq.HaltError); ok && he.Value() == nil {
				return nil
			}
			return &EvalError{Kind: "expr", Msg: errText(err)}
		}
		if err := yield(v); err != nil {
			return err
		}
	}
}

// errText is the message of a runtime error. For error(v) and halt_error(v)
// it is v itself, as jq's catch sees it ("two" for error("two"), not gojq's
// "error: two"); a value that is not a string is shown as JSON.
func errText(err error) string {
	s := err.Error()
	if ve, ok := err.(gojq.ValueError); ok {
		if v, ok := ve.Value().(string); ok {
			s = v
		} else if b, merr := gojq.Marshal(ve.Value()); merr == nil {
			s = string(b)
		}
	}
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return fmt.Sprint(s)
}

// truthy is jq's truth: everything but false and null.
func truthy(v any) bool {
	return v != nil && v != false
}
