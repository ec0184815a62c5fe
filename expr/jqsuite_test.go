//go:build jqsuite

package expr

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/itchyny/gojq"
)

// TestJQSuite runs test files in jq's format (jq's tests/*.test, from the
// jqlang/jq repository; not shipped with obz) through what obz map runs,
// and through gojq itself, and reports both pass rates and every case where
// obz and gojq differ. Run it with
//
//	OBZ_JQ_TESTS=/path/to/jq/tests/jq.test go test -tags jqsuite -run TestJQSuite -v ./expr
//
// (several files separated by the path list separator). A case passes when
// the expression compiles, runs on the input without error, and its
// outputs equal the expected ones as JSON values (2.0 == 2, key order
// aside), as jq's own test runner compares them; a %%FAIL case passes when
// the expression does not compile.
func TestJQSuite(t *testing.T) {
	paths := os.Getenv("OBZ_JQ_TESTS")
	if paths == "" {
		t.Skip("set OBZ_JQ_TESTS to jq's tests/*.test files")
	}
	for _, path := range filepath.SplitList(paths) {
		cases, err := readJQTests(path)
		if err != nil {
			t.Fatal(err)
		}
		var obzPass, gojqPass, same int
		var diffs, failed []string
		for _, c := range cases {
			o := c.run(func(src string) (func(string) ([]string, error), error) {
				p, err := CompileEnv(src, Env{Environ: os.Environ})
				if err != nil {
					return nil, err
				}
				return func(in string) ([]string, error) {
					var outs []string
					err := p.Outputs([]byte(in), false, func(b []byte) error {
						outs = append(outs, string(b))
						return nil
					})
					return outs, err
				}, nil
			})
			g := c.run(gojqRunner)
			if o.pass {
				obzPass++
			} else {
				failed = append(failed, fmt.Sprintf("%d: %s -> %s", c.line, c.prog, o.got))
			}
			if g.pass {
				gojqPass++
			}
			if o.pass == g.pass && o.got == g.got {
				same++
			} else {
				diffs = append(diffs, fmt.Sprintf("%s:%d: %s\n    input: %s\n    want: %s\n    obz:  %s (pass %v)\n    gojq: %s (pass %v)",
					filepath.Base(path), c.line, c.prog, c.input, strings.Join(c.want, " "), o.got, o.pass, g.got, g.pass))
			}
		}
		n := len(cases)
		t.Logf("%s: %d cases; obz passes %d (%.1f%%), gojq %d (%.1f%%); obz gives gojq's result on %d (%.1f%%)",
			filepath.Base(path), n, obzPass, pct(obzPass, n), gojqPass, pct(gojqPass, n), same, pct(same, n))
		for _, d := range diffs {
			t.Log(d)
		}
		t.Logf("failing through obz:\n  %s", strings.Join(failed, "\n  "))
	}
}

func pct(a, n int) float64 { return 100 * float64(a) / float64(max(n, 1)) }

// jqCase is one case of a jq test file.
type jqCase struct {
	line  int
	fail  bool // %%FAIL: the program must not compile
	prog  string
	input string
	want  []string
}

// jqOutcome is what one engine made of a case.
type jqOutcome struct {
	pass bool
	got  string // outputs, or the error, for the report
}

func (c *jqCase) run(compile func(string) (func(string) ([]string, error), error)) jqOutcome {
	run, err := compile(c.prog)
	if c.fail {
		if err != nil {
			return jqOutcome{true, "compile error"}
		}
		return jqOutcome{false, "compiled"}
	}
	if err != nil {
		return jqOutcome{false, "compile error: " + err.Error()}
	}
	outs, err := run(c.input)
	got := strings.Join(outs, " ")
	if err != nil {
		return jqOutcome{false, got + " error: " + err.Error()}
	}
	return jqOutcome{sameJSON(outs, c.want), got}
}

func gojqRunner(src string) (func(string) ([]string, error), error) {
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, err
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(os.Environ))
	if err != nil {
		return nil, err
	}
	return func(in string) ([]string, error) {
		var v any
		d := json.NewDecoder(strings.NewReader(in))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		var outs []string
		it := code.Run(v)
		for {
			v, ok := it.Next()
			if !ok {
				return outs, nil
			}
			if err, ok := v.(error); ok {
				return outs, err
			}
			b, err := gojq.Marshal(v)
			if err != nil {
				return outs, err
			}
			outs = append(outs, string(b))
		}
	}, nil
}

// sameJSON compares outputs as JSON values, numbers as float64.
func sameJSON(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		var a, b any
		if json.Unmarshal([]byte(got[i]), &a) != nil || json.Unmarshal([]byte(want[i]), &b) != nil || !reflect.DeepEqual(a, b) {
			return false
		}
	}
	return true
}

// readJQTests reads a file in the format of jq's tests: cases separated by
// blank lines, each a program, an input and the expected outputs, one per
// line; "%%FAIL" starts a case of a program that must not compile (its
// error message, on the next lines, is not compared); lines starting with
// # are comments.
func readJQTests(path string) ([]jqCase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cases []jqCase
	var cur *jqCase
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
			if cur != nil {
				cases = append(cases, *cur)
				cur = nil
			}
			continue
		case cur == nil && strings.HasPrefix(line, "%%FAIL"):
			fail = true
			continue
		}
		switch {
		case cur == nil:
			cur = &jqCase{line: n, prog: line, fail: fail}
			fail = false
		case cur.fail:
			// the expected error message: not compared
		case cur.input == "" && cur.want == nil:
			cur.input = line
			cur.want = []string{}
		default:
			cur.want = append(cur.want, line)
		}
	}
	if cur != nil {
		cases = append(cases, *cur)
	}
	return cases, sc.Err()
}
