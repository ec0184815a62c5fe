package stages

import (
	"fmt"

	"github.com/itchyny/gojq"
	jsoniter "github.com/json-iterator/go"
	"github.com/obz-dev/obz/runner"
)

// payloadJSON decodes payloads for gojq: numbers stay json.Number so that
// integers of any size and the input's number literals survive.
var payloadJSON = jsoniter.Config{UseNumber: true, EscapeHTML: false}.Froze()

// jqProgram is a jq expression compiled once for a stage.
type jqProgram struct {
	src  string
	code *gojq.Code
	fast *fastProgram // nil when the expression is outside the fast path's subset
}

// compileJQ parses and compiles expr, returning a *UsageError that points at
// the problem when it does not parse.
func compileJQ(expr string) (*jqProgram, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		if pe, ok := err.(interface{ Token() (string, int) }); ok {
			tok, off := pe.Token()
			return nil, runner.Usagef("bad jq expression %q: %v (at offset %d, near %q)", expr, err, off, tok)
		}
		return nil, runner.Usagef("bad jq expression %q: %v", expr, err)
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, runner.Usagef("bad jq expression %q: %v", expr, err)
	}
	return &jqProgram{src: expr, code: code, fast: compileFast(q)}, nil
}

// run decodes payload and calls yield with each output of the expression. A
// decode failure or a runtime error is returned as an *EventError.
func (p *jqProgram) run(payload []byte, yield func(v any) error) error {
	var in any
	if err := payloadJSON.Unmarshal(payload, &in); err != nil {
		return runner.EventErrorf("parse", "payload is not valid JSON: %v", err)
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
			return runner.EventErrorf("expr", "%s", errText(err))
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
