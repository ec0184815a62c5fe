package expr

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// outputs runs p as map does and returns its outputs joined by spaces.
func outputs(t *testing.T, p *Program, payload string) (string, error) {
	t.Helper()
	var outs []string
	err := p.Outputs([]byte(payload), true, func(b []byte) error {
		outs = append(outs, string(b))
		return nil
	})
	return strings.Join(outs, " "), err
}

func TestEnvAndNamedArguments(t *testing.T) {
	env := Env{
		Environ: func() []string { return []string{"C=DE", "EMPTY=", "X=a=b"} },
		Named: map[string]any{
			"s":    "text",
			"n":    mustValue(t, `12.50`),
			"all":  []any{mustValue(t, `1`), mustValue(t, `{"a":2}`)},
			"raw":  "line\n",
			"zero": mustValue(t, `0`),
		},
	}
	for _, c := range []struct{ expr, in, want string }{
		{`$ENV.C`, `{}`, `"DE"`},
		{`env.C`, `{}`, `"DE"`},
		{`$ENV.X`, `{}`, `"a=b"`},
		{`$ENV.EMPTY`, `{}`, `""`},
		{`$ENV.MISSING`, `{}`, `null`},
		{`.country == $ENV.C`, `{"country":"DE"}`, `true`},
		{`$s`, `{}`, `"text"`},
		{`$n`, `{}`, `12.50`},
		{`$n + 1`, `{}`, `13.5`},
		{`$all[1].a`, `{}`, `2`},
		{`$raw`, `{}`, `"line\n"`},
		{`$ARGS.named | keys`, `{}`, `["all","n","raw","s","zero"]`},
		{`$ARGS.positional`, `{}`, `[]`},
		{`.x > $zero`, `{"x":1}`, `true`},
	} {
		p, err := CompileEnv(c.expr, env)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		got, err := outputs(t, p, c.in)
		if err != nil || got != c.want {
			t.Errorf("%s on %s = %s, %v; want %s", c.expr, c.in, got, err, c.want)
		}
	}
	// Without an environment, $ENV is empty, and an unknown variable does
	// not compile.
	p, _ := Compile(`$ENV`)
	if got, _ := outputs(t, p, `{}`); got != `{}` {
		t.Errorf("$ENV without an environment = %s", got)
	}
	if _, err := CompileEnv(`$nope`, env); err == nil {
		t.Errorf("$nope compiles")
	}
}

func mustValue(t *testing.T, s string) any {
	t.Helper()
	v, err := Value(s)
	if err != nil {
		t.Fatalf("Value(%s): %v", s, err)
	}
	return v
}

func TestValues(t *testing.T) {
	vs, err := Values(strings.NewReader("1 {\"a\":[2]}\n\"s\"\n"))
	if err != nil || len(vs) != 3 {
		t.Fatalf("Values = %v, %v", vs, err)
	}
	if vs, err := Values(strings.NewReader("")); err != nil || len(vs) != 0 {
		t.Errorf("Values of nothing = %v, %v", vs, err)
	}
	if _, err := Values(strings.NewReader("1 {")); err == nil {
		t.Errorf("a truncated value is accepted")
	}
	for _, bad := range []string{"", "1 2", "{", "nul"} {
		if _, err := Value(bad); err == nil {
			t.Errorf("Value(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"", "1a", "a-b", "ENV", "a b"} {
		if CheckName(bad) == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
	for _, good := range []string{"a", "_x", "a1", "Name_2"} {
		if err := CheckName(good); err != nil {
			t.Errorf("CheckName(%q): %v", good, err)
		}
	}
}

func TestDebugStderrInputFilename(t *testing.T) {
	p, err := Compile(`debug | stderr | .a`)
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	p.SetStderr(&errOut)
	got, err := outputs(t, p, `{"a":"x"}`)
	if err != nil || got != `"x"` {
		t.Fatalf("outputs = %s, %v", got, err)
	}
	if want := `["DEBUG:",{"a":"x"}]` + "\n" + `{"a":"x"}`; errOut.String() != want {
		t.Errorf("stderr = %q, want %q", errOut.String(), want)
	}
	errOut.Reset()
	p, _ = Compile(`.a | stderr`)
	p.SetStderr(&errOut)
	outputs(t, p, `{"a":"raw"}`)
	if errOut.String() != "raw" {
		t.Errorf("stderr of a string = %q, want it raw", errOut.String())
	}

	p, _ = Compile(`input_filename`)
	if got, _ := outputs(t, p, `{}`); got != `null` {
		t.Errorf("input_filename of a stream = %s", got)
	}
	p.SetInputName("orders.ndjson")
	if got, _ := outputs(t, p, `{}`); got != `"orders.ndjson"` {
		t.Errorf("input_filename of a file = %s", got)
	}
}

func TestInputRefused(t *testing.T) {
	for _, e := range []string{`input`, `[inputs]`, `reduce inputs as $x (0; . + 1)`, `first(inputs)`} {
		_, err := Compile(e)
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "runs on each event by itself") {
			t.Errorf("%s: err = %v, want the per-event refusal", e, err)
		}
	}
	// A definition of one's own is the user's.
	if _, err := Compile(`def input: 1; input`); err != nil {
		t.Errorf("def input: %v", err)
	}
}

func TestHalt(t *testing.T) {
	for _, c := range []struct{ expr, in, outs, msg string }{
		{`null | halt_error`, `{}`, ``, `halt_error: null (jq would exit with status 5)`},
		{`halt_error`, `null`, ``, `halt_error: null (jq would exit with status 5)`},
		{`.a | halt_error`, `{"a":"bad row\n"}`, ``, `halt_error: bad row (jq would exit with status 5)`},
		{`1, ({"x":1} | halt_error(2))`, `{}`, `1`, `halt_error: {"x":1} (jq would exit with status 2)`},
	} {
		p, err := Compile(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := outputs(t, p, c.in)
		ee, ok := err.(*EvalError)
		if got != c.outs || !ok || ee.Kind != "halt" || ee.Msg != c.msg {
			t.Errorf("%s on %s = %q, %v; want %q and %q", c.expr, c.in, got, err, c.outs, c.msg)
		}
		if keep, err := p.Test([]byte(c.in), true); !errors.As(err, &ee) {
			t.Errorf("%s as a filter: %v, %v", c.expr, keep, err)
		}
	}
	p, _ := Compile(`1, halt, 2`)
	got, err := outputs(t, p, `{}`)
	if got != "1" || err != ErrHalt {
		t.Errorf("halt: %q, %v; want 1 then ErrHalt", got, err)
	}
}

// TestGojqConstAfterBranch: gojq v0.12.20 gives true for
// select((A or B) | "x") where jq gives the input; the rewrite makes
// gojq's path answer as jq (and as the fast path) does.
func TestGojqConstAfterBranch(t *testing.T) {
	in := `{"amount":60,"vip":false}`
	for _, c := range []struct{ expr, want string }{
		{`select((.amount > 50 or .vip) | "x")`, in},
		{`select((.amount > 50 and .vip) | "x")`, in},
		{`[(.amount > 50 or .vip) | "x"]`, `["x"]`},
		{`select((if .vip then 1 else 2 end) | "x")`, in},
		{`select((.amount > 50 or .vip) | 1 | . + 1)`, in},
		{`[.amount, .vip] | select((.[0] > 50 or .[1]) | null)`, ``},
		{`(.vip or .amount) | "x"[0:1]`, `"x"`},
		{`"ab" as $s | (.vip or .amount) | $s`, `"ab"`},
	} {
		p, err := Compile(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		p.fast = nil // the gojq path
		got, err := outputs(t, p, in)
		if err != nil || got != c.want {
			t.Errorf("%s = %s, %v; want %s", c.expr, got, err, c.want)
		}
	}
	// Where the fast path takes the expression, both paths agree.
	checkFastVsGojq(t, `select((.amount > 50 or .vip) | "x")`, []byte(in))
}

// An expression of nothing but white space and comments is refused as
// gojq's command refuses it (it used to crash the fast path's compiler).
func TestEmptyQuery(t *testing.T) {
	for _, e := range []string{``, `  `, "# comment", "# comment\n", "\n# a\n# b\n"} {
		_, err := Compile(e)
		var ce *CompileError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), `missing query (try ".")`) {
			t.Errorf("%q: err = %v, want missing query", e, err)
		}
	}
	if _, err := Compile("# comment\n."); err != nil {
		t.Errorf("comment, then .: %v", err)
	}
}
