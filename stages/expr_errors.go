package stages

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/obz-dev/obz/expr"
	"github.com/obz-dev/obz/runner"
)

// jqFlags are the options of the stages that take a jq expression: named
// arguments as jq takes them.
var jqFlags = []runner.Flag{
	// Usage names the arguments after NAME (VALUE, JSON, FILE) as the help
	// shows them: --arg NAME VALUE.
	{Name: "arg", Usage: "$NAME is the string VALUE in EXPR (repeatable, as the others; all are in $ARGS.named)", Default: []string{}, Arity: 2},
	{Name: "argjson", Usage: "$NAME is the JSON value JSON", Default: []string{}, Arity: 2},
	{Name: "slurpfile", Usage: "$NAME is the array of the values in FILE, JSON values separated by whitespace", Default: []string{}, Arity: 2},
	{Name: "rawfile", Usage: "$NAME is the text of FILE, as a string", Default: []string{}, Arity: 2},
}

// jqHelp is the part of a jq stage's description about what EXPR sees.
const jqHelp = `EXPR sees the process environment as $ENV and env (under obz replay and
obz flow --resume, the environment of that command: it is not recorded), and
the named arguments --arg, --argjson, --slurpfile and --rawfile as $NAME and
$ARGS.named, as in jq. debug and stderr write to stderr as jq 1.7 does;
input_filename is the input file's name, or null on stdin and flow edges.
halt_error(v) puts the event in the error lane (kind halt) with v as the
message, and the stage goes on; halt ends the input, as head does.
input and inputs are refused: EXPR runs on each event by itself.
Input files are read one after another, as jq reads them; none, or -, is
stdin.`

// compileJQ compiles a stage's jq expression with the stage's named
// arguments and the process environment. An expression that does not
// compile, or a bad argument, is a usage error (exit 2); a file of
// --slurpfile or --rawfile that cannot be read is a failure (exit 1). A
// NAME given twice is a usage error: jq takes the first one on the
// command line, which the options, read kind by kind, do not say.
func compileJQ(o runner.Options, src string) (*expr.Program, error) {
	named := map[string]any{}
	given := map[string]string{} // NAME: the option that gave it
	for _, kind := range []string{"arg", "argjson", "slurpfile", "rawfile"} {
		vals := o.Strings(kind)
		if len(vals)%2 != 0 {
			return nil, runner.Usagef("--%s takes two arguments: NAME and a value", kind)
		}
		for i := 0; i < len(vals); i += 2 {
			name, val := vals[i], vals[i+1]
			if err := expr.CheckName(name); err != nil {
				return nil, runner.Usagef("--%s: %v", kind, err)
			}
			if first, ok := given[name]; ok {
				return nil, runner.Usagef("$%s is given twice (--%s %s, --%s %s): give each NAME once", name, first, name, kind, name)
			}
			given[name] = kind
			var v any
			switch kind {
			case "arg":
				v = val
			case "argjson":
				var err error
				if v, err = expr.Value(val); err != nil {
					return nil, runner.Usagef("--argjson %s: %v", name, err)
				}
			case "slurpfile", "rawfile":
				f, err := os.Open(val)
				if err != nil {
					return nil, fmt.Errorf("--%s %s: %w", kind, name, err)
				}
				if kind == "slurpfile" {
					v, err = expr.Values(f)
				} else {
					var b []byte
					b, err = io.ReadAll(f)
					v = string(b)
				}
				f.Close()
				if err != nil {
					return nil, fmt.Errorf("--%s %s %s: %w", kind, name, val, err)
				}
			}
			named[name] = v
		}
	}
	p, err := expr.CompileEnv(src, expr.Env{Environ: os.Environ, Named: named})
	if err != nil {
		return nil, &runner.UsageError{Msg: err.Error()}
	}
	return p, nil
}

// exprEventError turns an *expr.EvalError into an *runner.EventError, so the
// event goes to the error lane, and expr.ErrHalt into runner.ErrStop; other
// errors (the emitter's) are returned as they are.
func exprEventError(err error) error {
	if ee, ok := errors.AsType[*expr.EvalError](err); ok {
		return &runner.EventError{Kind: ee.Kind, Msg: ee.Msg}
	}
	if err == expr.ErrHalt {
		return runner.ErrStop
	}
	return err
}
