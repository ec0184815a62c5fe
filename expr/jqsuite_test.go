//go:build jqsuite

package expr

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/itchyny/gojq"
	"go.yaml.in/yaml/v3"
)

// TestJQSuite runs jq's own test suites through what obz map runs, and
// through gojq alone, and reports both pass rates, the cases where obz
// and gojq differ, and (with OBZ_JQ_SUITE_VERBOSE=1) every case obz fails.
// The suites are not shipped with obz: docs/expressions.md says where to
// get them. Run it with
//
//	OBZ_JQ_TESTS=/path/to/jq/tests/jq.test:/path/to/jq/tests/man.test \
//	OBZ_GOJQ_TESTS=/path/to/gojq/cli/test.yaml \
//	go test -tags jqsuite -run TestJQSuite -v ./expr
//
// (several files separated by the path list separator).
//
// OBZ_JQ_TESTS are files in the format of jq's tests/*.test: cases of a
// program, an input and the expected outputs, or %%FAIL and a program
// that must not compile. OBZ_GOJQ_TESTS are files in the format of gojq's
// cli/test.yaml: command lines (args), an input, the expected output or
// error and exit status. A command line is run as obz map runs it when
// obz has the same means: the query, --arg, --argjson, --slurpfile,
// --rawfile, -c (obz's output is compact), -n (a null input: echo null |
// obz map), input files, the input's JSON values one event each (obz read
// --format json | obz map), -r (obz map --text: the printed text is
// compared). Other options (--slurp, --raw-output0, --tab,
// --indent, --stream, --yaml-*, -L modules, ...) have no equivalent in obz
// map: such a case is not expressible, and counted by its reason.
//
// A case passes when its outputs equal the expected ones as JSON values
// (2.0 == 2, key order aside), as jq's own test runner compares them, and
// it fails (an error on an input, or no compilation) exactly when it is
// expected to (in jq's format, an error after the expected outputs is
// allowed, as jq's runner allows it); error messages are not compared
// (obz's error lane and gojq's stderr word them differently).
func TestJQSuite(t *testing.T) {
	jqPaths, gojqPaths := os.Getenv("OBZ_JQ_TESTS"), os.Getenv("OBZ_GOJQ_TESTS")
	if jqPaths == "" && gojqPaths == "" {
		t.Skip("set OBZ_JQ_TESTS to jq's tests/*.test files, OBZ_GOJQ_TESTS to gojq's cli/test.yaml")
	}
	verbose := os.Getenv("OBZ_JQ_SUITE_VERBOSE") != ""
	// gojq's test runs its cases in this zone (localtime, mktime).
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.FixedZone("UTC-7", -7*60*60)
	var files []suiteFile
	for _, path := range filepath.SplitList(jqPaths) {
		cases, err := readJQTests(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, suiteFile{path, cases})
	}
	for _, path := range filepath.SplitList(gojqPaths) {
		cases, err := readGojqTests(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, suiteFile{path, cases})
	}
	var total suiteCount
	var table []string
	for _, f := range files {
		var n suiteCount
		var diffs, failed []string
		skipped := map[string]int{}
		for i := range f.cases {
			c := &f.cases[i]
			n.cases++
			if c.skip != "" {
				skipped[c.skip]++
				continue
			}
			n.expressible++
			lastFast = false
			o := c.run(obzEngine)
			if lastFast {
				n.fast++
			}
			g := c.run(gojqEngine)
			if o.pass {
				n.obz++
			} else {
				failed = append(failed, c.show(o, g))
			}
			if g.pass {
				n.gojq++
			}
			if o.same(g) {
				n.same++
			} else {
				diffs = append(diffs, c.show(o, g))
			}
		}
		total.add(n)
		base := filepath.Base(f.path)
		table = append(table, n.row(base))
		t.Logf("%s: %s", base, n)
		if len(skipped) > 0 {
			t.Logf("%s: not expressible through obz map:\n%s", base, counts(skipped))
		}
		t.Logf("%s: %d cases where obz and gojq differ:\n%s", base, len(diffs), strings.Join(diffs, "\n"))
		if verbose {
			t.Logf("%s: %d cases obz fails:\n%s", base, len(failed), strings.Join(failed, "\n"))
		}
	}
	table = append(table, total.row("all"))
	t.Logf("in all: %s\n\n| file | cases | expressible | obz passes | gojq passes | obz gives gojq's result | fast path |\n|---|--:|--:|--:|--:|--:|--:|\n%s",
		total, strings.Join(table, "\n"))
}

type suiteFile struct {
	path  string
	cases []suiteCase
}

// suiteCount is a file's tally.
type suiteCount struct{ cases, expressible, obz, gojq, same, fast int }

func (n *suiteCount) add(m suiteCount) {
	n.cases += m.cases
	n.expressible += m.expressible
	n.obz += m.obz
	n.gojq += m.gojq
	n.same += m.same
	n.fast += m.fast
}

func (n suiteCount) String() string {
	return fmt.Sprintf("%d cases, %d expressible; obz passes %d (%.1f%%), gojq %d (%.1f%%); obz gives gojq's result on %d (%.1f%%); obz's fast path answered %d",
		n.cases, n.expressible, n.obz, pct(n.obz, n.expressible), n.gojq, pct(n.gojq, n.expressible), n.same, pct(n.same, n.expressible), n.fast)
}

func (n suiteCount) row(name string) string {
	return fmt.Sprintf("| %s | %d | %d | %d (%.1f%%) | %d (%.1f%%) | %d (%.1f%%) | %d |",
		name, n.cases, n.expressible, n.obz, pct(n.obz, n.expressible), n.gojq, pct(n.gojq, n.expressible), n.same, pct(n.same, n.expressible), n.fast)
}

func pct(a, n int) float64 { return 100 * float64(a) / float64(max(n, 1)) }

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %4d  %s\n", m[k], k)
	}
	return b.String()
}

// suiteCase is one case of a suite, as obz map would run it.
type suiteCase struct {
	file string
	line int    // jq's format: the program's line
	name string // gojq's format: the case's name
	prog string
	// inputs are the events, one per JSON value of the case's input: the
	// value's bytes, or the error that stopped the reading of the input.
	inputs []suiteInput
	env    []string
	named  map[string]any
	want   []string // the expected outputs, as JSON texts
	// wantCompileFail: the program must not compile; wantError: an input
	// must fail (a runtime error, halt_error, an input that is not JSON).
	wantCompileFail, wantError bool
	// wantStderr is what debug and stderr must write (its start or end,
	// as gojq's test compares it).
	wantStderr string
	// nullInput runs the program once on null (jq -n; echo null | obz
	// map); the inputs are then only for input and inputs.
	nullInput bool
	// errorOK: an error after the expected outputs is no failure, as in
	// jq's runner (it compares the outputs before one).
	errorOK bool
	// argErr is why obz map (and gojq) refuse a named argument.
	argErr string
	skip   string // why obz map cannot express the case
	// text: jq -r, obz map --text: the outputs are compared as the text
	// they print (a string unquoted), with wantText.
	text     bool
	wantText string
}

type suiteInput struct {
	payload []byte
	err     error
	file    string // the input file it is read from; "" is stdin
}

// suiteOutcome is what one engine made of a case.
type suiteOutcome struct {
	compileErr string // set when the program did not compile
	outs       []string
	errs       []string // the runtime errors, one per failed input
	pass       bool
}

// same reports whether two engines gave the same answer: both compiled
// or not, the same outputs as JSON values, errors on the same inputs
// (their wording aside).
func (o suiteOutcome) same(g suiteOutcome) bool {
	return o.pass == g.pass && (o.compileErr == "") == (g.compileErr == "") &&
		sameJSON(o.outs, g.outs) && len(o.errs) == len(g.errs)
}

func (o suiteOutcome) String() string {
	if o.compileErr != "" {
		return "compile error: " + o.compileErr
	}
	s := strings.Join(o.outs, " ")
	for _, e := range o.errs {
		s += " error: " + e
	}
	return s
}

func (c *suiteCase) show(o, g suiteOutcome) string {
	where := fmt.Sprintf("%s:%d", filepath.Base(c.file), c.line)
	if c.name != "" {
		where = fmt.Sprintf("%s: %s", filepath.Base(c.file), c.name)
	}
	var in []string
	for _, i := range c.inputs {
		if i.err != nil {
			in = append(in, "(input error: "+i.err.Error()+")")
		} else {
			in = append(in, string(i.payload))
		}
	}
	want := strings.Join(c.want, " ")
	if c.wantCompileFail {
		want = "(no compilation)"
	} else if c.wantError {
		want += " (and an error)"
	}
	return fmt.Sprintf("%s: %s\n    input: %s\n    want: %s\n    obz:  %s (pass %v)\n    gojq: %s (pass %v)",
		where, clipText(c.prog), clipText(strings.Join(in, " ")), clipText(want), clipText(o.String()), o.pass, clipText(g.String()), g.pass)
}

func clipText(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// engine runs a case's program on its inputs: the outputs, the runtime
// errors (one per failed input) and what was written to stderr, or the
// error that kept the program from compiling.
type engine func(c *suiteCase) (outs, errs []string, stderr string, compileErr error)

func (c *suiteCase) run(eng engine) suiteOutcome {
	if c.argErr != "" {
		return suiteOutcome{compileErr: c.argErr, pass: c.wantError || c.wantCompileFail}
	}
	outs, errs, stderr, err := eng(c)
	if err != nil {
		return suiteOutcome{compileErr: oneLine(err.Error()), pass: c.wantCompileFail}
	}
	o := suiteOutcome{outs: outs, errs: errs}
	if c.wantCompileFail {
		return o
	}
	outsOK := sameJSON(o.outs, c.want)
	if c.text {
		outsOK = asText(o.outs) == c.wantText
	}
	o.pass = outsOK && (c.errorOK || (len(o.errs) > 0) == c.wantError) &&
		(c.wantStderr == "" || strings.HasPrefix(stderr, c.wantStderr) || strings.HasSuffix(stderr, c.wantStderr))
	return o
}

// asText is what obz map --text (jq -r) prints for outputs: a string as
// its text, any other value as JSON, each followed by a newline.
func asText(outs []string) string {
	var b strings.Builder
	for _, o := range outs {
		var s string
		if strings.HasPrefix(o, `"`) && json.Unmarshal([]byte(o), &s) == nil {
			b.WriteString(s)
		} else {
			b.WriteString(o)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", `\n`) }

func (c *suiteCase) environ() func() []string {
	return func() []string { return c.env }
}

// obzEngine is what obz map runs: CompileEnv, then Outputs on each event
// (the fast path when the expression is in its subset), its outputs
// encoded as map writes them; halt ends the input.
func obzEngine(c *suiteCase) (outs, errs []string, stderr string, _ error) {
	p, err := CompileEnv(c.prog, Env{Environ: c.environ(), Named: c.named})
	if err != nil {
		return nil, nil, "", err
	}
	var errw strings.Builder
	p.SetStderr(&errw)
	events := c.inputs
	if c.nullInput {
		events = []suiteInput{{payload: []byte("null")}}
	}
	for _, in := range events {
		if in.err != nil {
			errs = append(errs, "input: "+in.err.Error())
			break
		}
		p.SetInputName(in.file)
		err := p.Outputs(in.payload, true, func(b []byte) error {
			outs = append(outs, string(b))
			return nil
		})
		if errors.Is(err, ErrHalt) {
			break
		}
		if err != nil {
			errs = append(errs, oneLine(err.Error()))
		}
	}
	lastFast = p.Stats().Fast > 0
	return outs, errs, errw.String(), nil
}

// lastFast says whether the fast path answered an event of the case
// obzEngine ran last.
var lastFast bool

// gojqEngine is gojq as its command runs a query: the same environment
// and named arguments; input and inputs read the next inputs; debug,
// stderr and input_filename as its command defines them ("<stdin>" for
// standard input); halt ends the input.
func gojqEngine(c *suiteCase) (outs, errs []string, stderr string, _ error) {
	q, err := gojq.Parse(c.prog)
	if err != nil {
		return nil, nil, "", err
	}
	names, vals := variables(c.named)
	var inputName any // the file of the input read last
	var errw strings.Builder
	next := 0
	var inputErr error
	inputs := suiteIter(func() (any, bool) {
		if next >= len(c.inputs) || inputErr != nil {
			inputName = nil // as gojq's command has it after the last input
			return nil, false
		}
		in := c.inputs[next]
		next++
		inputName = in.file
		if in.file == "" {
			inputName = "<stdin>"
		}
		if in.err != nil {
			inputErr = in.err
			return nil, false
		}
		return decodeNumber(in.payload)
	})
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(c.environ()), gojq.WithVariables(names), gojq.WithInputIter(inputs),
		gojq.WithFunction("input_filename", 0, 0, func(any, []any) any { return inputName }),
		gojq.WithFunction("debug", 0, 0, func(v any, _ []any) any {
			b, err := gojq.Marshal([]any{"DEBUG:", v})
			if err != nil {
				return err
			}
			errw.Write(append(b, '\n'))
			return v
		}),
		gojq.WithFunction("stderr", 0, 0, func(v any, _ []any) any {
			if s, ok := v.(string); ok {
				errw.WriteString(s)
				return v
			}
			b, err := gojq.Marshal(v)
			if err != nil {
				return err
			}
			errw.Write(b)
			return v
		}))
	if err != nil {
		return nil, nil, "", err
	}
	// run runs the program on v, and reports whether it halted.
	run := func(v any) bool {
		it := code.Run(v, vals...)
		for {
			v, ok := it.Next()
			if !ok {
				return false
			}
			if err, ok := v.(error); ok {
				if he, ok := err.(*gojq.HaltError); ok && he.Value() == nil && he.ExitCode() == 0 {
					return true
				}
				errs = append(errs, oneLine(err.Error()))
				return false
			}
			b, err := gojq.Marshal(v)
			if err != nil {
				errs = append(errs, oneLine(err.Error()))
				return false
			}
			outs = append(outs, string(b))
		}
	}
	if c.nullInput {
		run(nil)
	} else {
		for {
			v, ok := inputs.Next()
			if !ok || run(v) {
				break
			}
		}
	}
	if inputErr != nil {
		errs = append(errs, "input: "+inputErr.Error())
	}
	return outs, errs, errw.String(), nil
}

// suiteIter is a gojq.Iter of a function.
type suiteIter func() (any, bool)

func (f suiteIter) Next() (any, bool) { return f() }

func decodeNumber(payload []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return err, true
	}
	return v, true
}

// sameJSON compares outputs as JSON values, numbers as float64 (a
// number beyond float64, 5e1000, as its text).
func sameJSON(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		a, aok := decodeNumber([]byte(got[i]))
		b, bok := decodeNumber([]byte(want[i]))
		if _, bad := a.(error); bad || !aok || !bok {
			return false
		}
		if _, bad := b.(error); bad || !reflect.DeepEqual(floats(a), floats(b)) {
			return false
		}
	}
	return true
}

// floats turns the json.Numbers in v into float64s where they fit.
func floats(v any) any {
	switch v := v.(type) {
	case json.Number:
		if f, err := v.Float64(); err == nil {
			return f
		}
		return string(v)
	case []any:
		for i := range v {
			v[i] = floats(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = floats(v[k])
		}
	}
	return v
}

// splitInput turns an input text into events, one per JSON value, as obz
// read --format json reads them: each value compacted, its numbers as
// written. Reading stops at the first text that is not JSON.
func splitInput(text, file string) []suiteInput {
	d := json.NewDecoder(strings.NewReader(text))
	var ins []suiteInput
	for {
		var raw json.RawMessage
		err := d.Decode(&raw)
		if err == io.EOF {
			return ins
		}
		if err != nil {
			return append(ins, suiteInput{err: err, file: file})
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return append(ins, suiteInput{err: err, file: file})
		}
		ins = append(ins, suiteInput{payload: b.Bytes(), file: file})
	}
}

// splitOutputs reads expected outputs, JSON values separated by
// whitespace.
func splitOutputs(text string) ([]string, error) {
	var outs []string
	for _, in := range splitInput(text, "") {
		if in.err != nil {
			return nil, in.err
		}
		outs = append(outs, string(in.payload))
	}
	return outs, nil
}

// readJQTests reads a file in the format of jq's tests: cases separated by
// blank lines, each a program, an input and the expected outputs, one per
// line; "%%FAIL" starts a case of a program that must not compile (its
// error message, on the next lines, is not compared); lines starting with
// # are comments. As in jq's runner, an error after the expected outputs
// is no failure. jq's runner sets PAGER=less (the manual's $ENV.PAGER
// example); the cases see that environment only.
func readJQTests(path string) ([]suiteCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []suiteCase
	var cur *suiteCase
	var input *string
	end := func() {
		if cur == nil {
			return
		}
		if input != nil {
			cur.inputs = splitInput(*input, "")
		}
		if !cur.wantCompileFail && (strings.Contains(cur.prog, "import ") || strings.Contains(cur.prog, "include ") || strings.Contains(cur.prog, "modulemeta")) {
			cur.skip = "modules (import, include, modulemeta; jq -L)"
		}
		cases = append(cases, *cur)
		cur, input = nil, nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	fail := false
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			end()
			continue
		case cur == nil && strings.HasPrefix(line, "%%FAIL"):
			fail = true
			continue
		}
		switch {
		case cur == nil:
			cur = &suiteCase{file: path, line: n, prog: line, wantCompileFail: fail, errorOK: true, env: []string{"PAGER=less"}, want: []string{}}
			fail = false
		case cur.wantCompileFail:
			// the expected error message: not compared
		case input == nil:
			// jq's runner skips a byte order mark before the input.
			line = strings.TrimPrefix(line, "\ufeff")
			input = &line
		default:
			cur.want = append(cur.want, line)
		}
	}
	end()
	return cases, sc.Err()
}

// gojqTest is a case of gojq's cli/test.yaml.
type gojqTest struct {
	Name     string   `yaml:"name"`
	Args     []string `yaml:"args"`
	Input    *string  `yaml:"input"`
	Expected string   `yaml:"expected"`
	Error    string   `yaml:"error"`
	ExitCode int      `yaml:"exit_code"`
	Env      []string `yaml:"env"` // NAME=value
}

// readGojqTests reads gojq's cli/test.yaml; files the cases name
// (--slurpfile, --rawfile, input files) are taken from its directory.
func readGojqTests(path string) ([]suiteCase, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tests []gojqTest
	if err := yaml.Unmarshal(b, &tests); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	dir := filepath.Dir(path)
	cases := make([]suiteCase, 0, len(tests))
	for _, tt := range tests {
		cases = append(cases, gojqCase(path, dir, tt))
	}
	return cases, nil
}

// gojqCase maps a gojq command line onto obz map, or says why it cannot.
func gojqCase(path, dir string, tt gojqTest) suiteCase {
	c := suiteCase{file: path, name: tt.Name, env: os.Environ(), named: map[string]any{}}
	c.env = append(c.env, tt.Env...)
	skip := func(why string) suiteCase {
		c.skip = why
		return c
	}
	// As gojq's test reads a case: an error output with DEBUG: in it is
	// what debug and stderr write, the status 0; any other is an error,
	// the status 5 unless the case says another.
	switch {
	case tt.ExitCode == 2:
		return skip("a usage error of gojq's command line (exit status 2)")
	case tt.ExitCode == 3:
		c.wantCompileFail = true
	case tt.Error != "" && strings.Contains(tt.Error, "DEBUG:"):
		c.wantStderr = tt.Error
	default:
		c.wantError = tt.Error != "" || tt.ExitCode != 0
	}
	var positional []string
	nullInput, compact := false, false
	args := tt.Args
	named := func() (string, string, bool) {
		if len(args) < 2 {
			return "", "", false
		}
		name, val := args[0], args[1]
		args = args[2:]
		return name, val, true
	}
	for len(args) > 0 {
		a := args[0]
		args = args[1:]
		if a == "--" {
			positional = append(positional, args...)
			break
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			positional = append(positional, a)
			continue
		}
		var flags []string
		if strings.HasPrefix(a, "--") {
			flags = []string{strings.SplitN(a, "=", 2)[0]}
		} else {
			for _, r := range a[1:] {
				flags = append(flags, "-"+string(r))
			}
		}
		for _, f := range flags {
			switch f {
			case "-c", "--compact-output":
				// obz map's output is compact.
				compact = true
			case "-M", "--monochrome-output":
				// and not coloured.
			case "-n", "--null-input":
				nullInput = true
			case "-r", "--raw-output":
				c.text = true // obz map --text
			case "--arg", "--argjson", "--slurpfile", "--rawfile":
				name, val, ok := named()
				if !ok {
					return skip(f + " without NAME and a value")
				}
				var v any
				var err error
				switch f {
				case "--arg":
					v = val
				case "--argjson":
					v, err = Value(val)
				case "--slurpfile", "--rawfile":
					var b []byte
					if b, err = os.ReadFile(filepath.Join(dir, val)); err == nil {
						if f == "--rawfile" {
							v = string(b)
						} else {
							v, err = Values(bytes.NewReader(b))
						}
					}
				}
				if err == nil {
					err = CheckName(name)
				}
				if err != nil {
					// obz map refuses the argument before it reads
					// an input (a usage error), and so does gojq.
					c.argErr = f + " " + name + ": " + err.Error()
				}
				if _, ok := c.named[name]; ok {
					return skip("a NAME given twice (obz refuses it, jq takes the first)")
				}
				c.named[name] = v
			default:
				return skip("option " + f)
			}
		}
	}
	if len(positional) == 0 {
		return skip("no query (jq's default is .; obz map takes EXPR)")
	}
	c.prog, positional = positional[0], positional[1:]
	if strings.Contains(c.prog, "import ") || strings.Contains(c.prog, "include ") {
		return skip("modules (import, include)")
	}
	c.nullInput = nullInput
	if len(positional) == 0 {
		positional = []string{"-"}
	}
	stdin := tt.Input
	for _, p := range positional {
		if p == "-" {
			if stdin != nil { // read whole the first time
				c.inputs = append(c.inputs, splitInput(*stdin, "")...)
				stdin = nil
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return skip("an input file that does not exist")
		}
		c.inputs = append(c.inputs, splitInput(string(b), p)...)
	}
	if c.text {
		if !compact && strings.Contains(tt.Expected, "\n  ") {
			return skip("jq -r without -c: other values indented (obz map --text writes them compact, as jq -rc)")
		}
		c.wantText, c.want = tt.Expected, []string{}
		return c
	}
	want, err := splitOutputs(tt.Expected)
	if err != nil {
		return skip("expected output that is not JSON values")
	}
	c.want = want
	if c.want == nil {
		c.want = []string{}
	}
	return c
}
