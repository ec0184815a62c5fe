package expr

import (
	"errors"
	"fmt"
	"io"
	"strings"

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
	env  Env // what it was compiled with, for Clone
	code *gojq.Code
	fast *fastProgram // nil when the expression is outside the fast path's subset
	out  []byte       // the fast path's output, reused
	vals []any        // the values of the variables, in the order code expects them

	stderr    io.Writer // where debug and stderr write; io.Discard until SetStderr
	inputName string    // what input_filename gives; "" is null
	// slowWhy says why the expression is outside the fast path's subset.
	slowWhy string
	stats   PathStats
	// fields, with partial, are all that gojq's path reads of an object
	// event: run decodes only them (jqfields.go).
	fields  []string
	partial bool
}

// Env is what an expression sees besides its input event.
type Env struct {
	// Environ lists the environment as "NAME=value" strings, for $ENV and
	// env (os.Environ in a stage). Nil is an empty environment.
	Environ func() []string
	// Named are the named arguments (--arg, --argjson, --slurpfile,
	// --rawfile): each NAME is the variable $NAME, and $ARGS.named holds
	// them all, as in jq. Values are what Value, Values and strings give.
	Named map[string]any
}

// Compile parses and compiles expr with an empty environment and no
// named arguments. See CompileEnv.
func Compile(expr string) (*Program, error) { return CompileEnv(expr, Env{}) }

// CompileEnv parses and compiles expr for env. An expression that does not
// parse or compile is a *CompileError that points at the problem.
func CompileEnv(expr string, env Env) (*Program, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		ce := &CompileError{Expr: expr, Err: err}
		if pe, ok := err.(interface{ Token() (string, int) }); ok {
			ce.Syntax = true
			ce.Token, ce.Offset = pe.Token()
		}
		return nil, ce
	}
	if emptyQuery(q) {
		// gojq parses "" and a lone comment to a query of nothing, which
		// its compiler does not expect; its command says the same.
		return nil, &CompileError{Expr: expr, Err: errors.New(`missing query (try ".")`)}
	}
	if bad := inputCall(q); bad != "" {
		return nil, &CompileError{Expr: expr, Err: fmt.Errorf("%s is not available: the expression runs on each event by itself, so there is no next input to read; combine events with a stateful stage (agg, top, dedupe) or pipe obz's -r output to jq -n", bad)}
	}
	fast, why := compileFast(q)
	p := &Program{src: expr, env: env, stderr: io.Discard, fast: fast, slowWhy: why}
	p.fields, p.partial = inputFields(q)
	// After the fast path has seen the expression as written: the rewrite
	// is for gojq's compiler only (gojqfix.go).
	avoidConstAfterBranch(q)
	names, vals := variables(env.Named)
	p.vals = vals
	environ := env.Environ
	if environ == nil {
		environ = func() []string { return nil }
	}
	code, err := gojq.Compile(q,
		gojq.WithEnvironLoader(environ),
		gojq.WithVariables(names),
		gojq.WithFunction("debug", 0, 0, p.debug),
		gojq.WithFunction("stderr", 0, 0, p.toStderr),
		gojq.WithFunction("input_filename", 0, 0, p.inputFilename),
	)
	if err != nil {
		return nil, &CompileError{Expr: expr, Err: err}
	}
	p.code = code
	return p, nil
}

// Clone compiles the program again, for another goroutine: the same
// expression with the same environment and named arguments, with scratch
// state and path counts of its own. Its stderr is io.Discard until
// SetStderr.
func (p *Program) Clone() (*Program, error) { return CompileEnv(p.src, p.env) }

// SetStderr says where debug and stderr write (the stage's stderr).
func (p *Program) SetStderr(w io.Writer) { p.stderr = w }

// SetInputName says what input_filename gives for the events that follow:
// the name of the file they are read from, or "" (null) for a stream.
func (p *Program) SetInputName(name string) { p.inputName = name }

// debug writes ["DEBUG:",v] on a line of its own, as jq 1.7 does, and
// gives v.
func (p *Program) debug(v any, _ []any) any {
	b, err := gojq.Marshal([]any{"DEBUG:", v})
	if err != nil {
		return err
	}
	if _, err := p.stderr.Write(append(b, '\n')); err != nil {
		return err
	}
	return v
}

// toStderr writes v with no newline, a string raw and anything else as
// compact JSON, as jq 1.7 does, and gives v.
func (p *Program) toStderr(v any, _ []any) any {
	var b []byte
	if s, ok := v.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = gojq.Marshal(v); err != nil {
			return err
		}
	}
	if _, err := p.stderr.Write(b); err != nil {
		return err
	}
	return v
}

func (p *Program) inputFilename(any, []any) any {
	if p.inputName == "" {
		return nil
	}
	return p.inputName
}

// emptyQuery reports whether q is the query of an expression with nothing
// but white space and comments.
func emptyQuery(q *gojq.Query) bool {
	return q.Term == nil && q.Op == 0 && q.Left == nil && q.Right == nil && q.Meta == nil &&
		len(q.Imports) == 0 && len(q.FuncDefs) == 0 && len(q.Patterns) == 0
}

// inputCall returns "input" or "inputs" when q calls one of them (and does
// not define it itself), else "".
func inputCall(q *gojq.Query) string {
	found := ""
	walkQueries(q, func(q *gojq.Query) {
		for _, fd := range q.FuncDefs {
			if fd.Name == "input" || fd.Name == "inputs" {
				found = "-" // a user's own definition: gojq decides
			}
		}
		if found != "" || q.Term == nil || q.Term.Type != gojq.TermTypeFunc {
			return
		}
		if f := q.Term.Func; len(f.Args) == 0 && (f.Name == "input" || f.Name == "inputs") {
			found = f.Name
		}
	})
	if found == "-" {
		return ""
	}
	return found
}

// run decodes payload (valid: known to be valid JSON; members: the
// reader's index of its members, or nil) and calls yield
// with each output of the expression. A decode failure or a runtime error
// is returned as an *EvalError; halt (which stops jq with status 0) as
// ErrHalt.
func (p *Program) run(payload []byte, valid bool, members []uint32, yield func(v any) error) error {
	var in any
	ok := false
	if p.partial {
		in, ok = p.decodeFields(payload, valid, members)
	}
	if !ok {
		if err := payloadJSON.Unmarshal(payload, &in); err != nil {
			return &EvalError{Kind: "parse", Msg: fmt.Sprintf("payload is not valid JSON: %v", err)}
		}
	}
	iter := p.code.Run(in, p.vals...)
	for {
		v, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, ok := v.(error); ok {
			if he, ok := err.(*gojq.HaltError); ok {
				return haltError(he)
			}
			return &EvalError{Kind: "expr", Msg: errText(err)}
		}
		if err := yield(v); err != nil {
			return err
		}
	}
}

// haltError is what halt and halt_error mean for a stage: halt (exit
// status 0, no value) is ErrHalt; halt_error is an error on the event,
// its message the value as jq prints it, with jq's exit status.
func haltError(he *gojq.HaltError) error {
	v := he.Value()
	if v == nil && he.ExitCode() == 0 {
		return ErrHalt
	}
	msg := ""
	switch v := v.(type) {
	case string:
		msg = strings.TrimSuffix(v, "\n")
	default:
		b, err := gojq.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		msg = string(b)
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return &EvalError{Kind: "halt", Msg: fmt.Sprintf("halt_error: %s (jq would exit with status %d)", msg, he.ExitCode())}
}

// errText is the message of a runtime error. For error(v) it is v itself,
// as jq's catch sees it ("two" for error("two"), not gojq's "error: two");
// a value that is not a string is shown as JSON.
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
