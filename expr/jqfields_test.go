package expr

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/itchyny/gojq"
	"github.com/obz-dev/obz/wire"
)

// jqFieldsCases are expressions on gojq's path (and some the fast path
// takes, run here on gojq's) with the fields inputFields finds; nil fields
// means the whole input is decoded.
var jqFieldsCases = []struct {
	expr   string
	fields []string // nil: not partial
}{
	{`.msg | test("o")`, []string{"msg"}},
	{`{id, u: (.user | ascii_downcase), c: (.msg | indices("o") | length)}`, []string{"id", "user", "msg"}},
	{`.a.b[0]`, []string{"a"}},
	{`."a b"`, []string{"a b"}},
	{`.["a"]`, []string{"a"}},
	{`{"a b"}`, []string{"a b"}},
	{`{(.k): .v}`, []string{"k", "v"}},
	{`.a[.i]`, []string{"a", "i"}},
	{`.a[.i:.j]?`, []string{"a", "i", "j"}},
	{`"\(.a)-\(.b)"`, []string{"a", "b"}},
	{`if .a then .b elif .c then .d else .e end`, []string{"a", "b", "c", "d", "e"}},
	{`try (.a | error) catch .`, []string{"a"}},
	{`.a // .b`, []string{"a", "b"}},
	{`[.a, .b] | max`, []string{"a", "b"}},
	{`-.n`, []string{"n"}},
	{`.a and (.b | not)`, []string{"a", "b"}},
	{`(.a | tostring) + .b`, []string{"a", "b"}},
	{`empty`, []string{}},
	{`1, 2`, []string{}},
	{`{a: 1}`, []string{}},
	{`{$ENV} | length`, []string{}},
	{`.a | .b | keys`, []string{"a"}},
	{`{a: .a} | keys`, []string{"a"}},
	{`.a?, .b[]?`, []string{"a", "b"}},
	{`.a | getpath(["b"])`, []string{"a"}},
	{`.msg | gsub("o"; "0")`, []string{"msg"}},
	{`(.tags | length) > 1 and .n == 3`, []string{"tags", "n"}},
	{`[.tags[] | ascii_upcase]`, []string{"tags"}},
	{`.missing`, []string{"missing"}},
	{`$ENV.PATH, .a`, []string{"a"}},
	{`.a as $x | $x`, nil},
	{`.a["b"]`, []string{"a"}},
	{`.a | . as $x | [$x, $x]`, []string{"a"}},
	{`.a | reduce .[] as $x (0; . + $x)`, []string{"a"}},
	// the whole input, or more than constant keys of it
	{`.`, nil},
	{`. as $r | $r.a`, nil},
	{`if .a then .b end`, nil},
	{`keys`, nil},
	{`.[]`, nil},
	{`..`, nil},
	{`@json`, nil},
	{`@base64 "x\(.a)"`, nil},
	{`.a = 1`, nil},
	{`.a |= . + 1`, nil},
	{`del(.a)`, nil},
	{`to_entries`, nil},
	{`select(.a) | .b`, []string{"a", "b"}},
	{`select(.n > 1) | select(.msg) | {id, msg}`, []string{"n", "msg", "id"}},
	{`if .a then .b end | .c`, []string{"a", "b", "c"}},
	{`(., .a) | .b?`, []string{"a", "b"}},
	{`. | .a`, []string{"a"}},
	{`.a // . | .b`, []string{"a", "b"}},
	{`try select(.c) catch . | .d`, []string{"c", "d"}},
	{`select(.a)`, nil},
	{`., .a`, nil},
	{`try . catch .`, nil},
	{`select(.a) | keys`, nil},
	{`[select(.a)]`, nil},
	{`{x: select(.a)}`, nil},
	{`select(.) | .a`, nil},
	{`(select(.a)).b`, nil},
	{`if . then .a else .b end`, nil},
	{`"\(.)"`, nil},
	{`.a + .`, nil},
	{`.a[.]`, nil},
	{`{id, t: now | type, e: (env | type), i: infinite, n: (nan | isnan), f: input_filename}`, []string{"id"}},
	{`{t: type, n: not, h: has("a"), x: has("nope")}`, []string{"a", "nope"}},
	{`first(.a, .b), last(.c[]?), limit(2; .tags[])`, []string{"a", "b", "c", "tags"}},
	{`first(select(.a)) | .b`, []string{"a", "b"}},
	{`limit(.n; .tags[])`, []string{"n", "tags"}},
	{`if .n > 5 then error(.msg) else .id end`, []string{"n", "msg", "id"}},
	{`try error({m: .msg}) catch .m`, []string{"msg"}},
	{`first(.)`, nil},
	{`limit(1; .)`, nil},
	{`limit(.; .a)`, nil},
	{`error(.)`, nil},
	{`error`, nil},
	{`has(.k)`, nil},
	{`has(1)`, nil},
	{`isempty(.a)`, nil},
	{`length`, nil},
	{`reduce .a[] as $x (0; . + $x)`, nil},
	{`def f: .a; f`, nil},
	{`.[.k]`, nil},
	{`."\(.k)"`, nil},
	{`{"\(.k)"}`, nil},
	{`.[0]`, nil},
	{`length`, nil},
	{`{a: .a} + .`, nil},
	{`[.a, .]`, nil},
	{`label $out | .a`, nil},
	{`.a as [$x, $y] | $x`, nil},
}

func TestInputFields(t *testing.T) {
	for _, c := range jqFieldsCases {
		q, err := gojq.Parse(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		fields, ok := inputFields(q)
		if ok != (c.fields != nil) || ok && !slices.Equal(fields, c.fields) && !(len(fields) == 0 && len(c.fields) == 0) {
			t.Errorf("%s: fields %q (ok %v), want %q", c.expr, fields, ok, c.fields)
		}
	}
}

// jqFieldsPayloads are events of every shape: repeated and escaped keys,
// nested values, numbers written in several ways, non-objects, and bytes
// that are not JSON.
var jqFieldsPayloads = []string{
	`{"a":{"b":[1,2]},"b":{"b":"x"},"msg":"hello world","id":1,"user":"U7","n":3,"tags":["x","vip"],"k":"a","v":[1],"i":0,"j":1}`,
	`{"a":1,"a":2,"b":"x","b":null}`,
	`{"m\u0073g":"escaped key","msg":"plain","id":1.0,"user":"\u00dcber"}`,
	`{"a b":1,"a":[3,1,2],"i":1,"j":3,"c":true,"d":"D","e":"E"}`,
	`{"n":-0,"a":1e2,"b":100,"msg":"ooo","tags":[]}`,
	`{}`,
	` { "a" : { "b" : [ 0 ] } , "msg" : "spaced" } `,
	`{"a":"str","b":{"x":1},"k":null,"v":null}`,
	`{"tags":["a","bb","ccc"],"n":3,"a":false,"b":false,"c":false,"e":0}`,
	`{"a":{"b":{"c":{"d":[{"e":1}]}}},"msg":"nested"}`,
	`[1,2,3]`,
	`"a string"`,
	`42`,
	`null`,
	`{"a":1,`,
	`{"a":1}x`,
	`{"a":tru}`,
	`{"a":1,"msg":"bad \x01 control"}`,
}

// TestPartialDecodeSameAnswers: every expression gives the same outputs
// and errors on every payload, whether run decodes the fields it reads
// or the whole event, the payload known valid or not.
func TestPartialDecodeSameAnswers(t *testing.T) {
	for _, c := range jqFieldsCases {
		p, err := Compile(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if p.partial != (c.fields != nil) {
			t.Fatalf("%s: partial %v", c.expr, p.partial)
		}
		full, err := Compile(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		full.partial = false
		for _, payload := range jqFieldsPayloads {
			for _, valid := range []bool{false, true} {
				if valid && !jsonValid(payload) {
					continue
				}
				if _, ok := p.decodeFields([]byte(payload), valid, nil); p.partial && !ok && jsonValid(payload) && strings.HasPrefix(strings.TrimSpace(payload), "{") {
					t.Errorf("%s on %s (valid %v): the fields were not decoded: the whole event was", c.expr, payload, valid)
				}
				got, want := runAll(p, payload, valid, nil), runAll(full, payload, valid, nil)
				if idx, obj, ok := wire.ValidIndex([]byte(payload), nil); valid && obj && ok {
					// The reader's index of the members, as a checked frame has it.
					if got := runAll(p, payload, true, idx); got != want {
						t.Errorf("%s on %s, with the members' index:\npartial: %s\nfull:    %s", c.expr, payload, got, want)
					}
				}
				if got != want {
					t.Errorf("%s on %s (valid %v):\npartial: %s\nfull:    %s", c.expr, payload, valid, got, want)
				}
			}
		}
	}
}

func jsonValid(s string) bool {
	var v any
	return payloadJSON.Unmarshal([]byte(s), &v) == nil
}

// runAll is what run yields on payload, as text: each output as JSON, then
// the error.
func runAll(p *Program, payload string, valid bool, members []uint32) string {
	var b strings.Builder
	err := p.run([]byte(payload), valid, members, func(v any) error {
		out, err := gojq.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(out)
		b.WriteByte('\n')
		return nil
	})
	fmt.Fprintf(&b, "error: %v", err)
	return b.String()
}

// FuzzPartialDecode: on any bytes, decoding only the fields an expression
// reads gives the outputs and errors of decoding the whole event.
func FuzzPartialDecode(f *testing.F) {
	for _, p := range jqFieldsPayloads {
		f.Add([]byte(p))
	}
	var progs, fulls []*Program
	for _, c := range jqFieldsCases {
		if c.fields == nil {
			continue
		}
		p, err := Compile(c.expr)
		if err != nil {
			f.Fatal(err)
		}
		full, _ := Compile(c.expr)
		full.partial = false
		progs, fulls = append(progs, p), append(fulls, full)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for i, p := range progs {
			want := runAll(fulls[i], string(payload), false, nil)
			if got := runAll(p, string(payload), false, nil); got != want {
				t.Errorf("%s on %q:\npartial: %s\nfull:    %s", p.src, payload, got, want)
			}
			if idx, obj, ok := wire.ValidIndex(payload, nil); obj && ok {
				if got := runAll(p, string(payload), true, idx); got != want {
					t.Errorf("%s on %q, with the members' index:\npartial: %s\nfull:    %s", p.src, payload, got, want)
				}
			}
		}
	})
}

// TestPartialDecodeDeep: members nested at the decoder's limit and one
// level past it, in a member the expression does not read: the partial
// decode refuses what the whole decode refuses.
func TestPartialDecodeDeep(t *testing.T) {
	for _, d := range []int{9999, 10000} {
		payload := `{"tags":` + strings.Repeat("[", d) + strings.Repeat("]", d) + `,"a":1,"msg":"deep"}`
		for _, e := range []string{`.msg`, `{a, msg}`, `.tags | length`} {
			p, err := Compile(e)
			if err != nil {
				t.Fatal(err)
			}
			full, _ := Compile(e)
			full.partial = false
			for _, valid := range []bool{false, true} {
				if got, want := runAll(p, payload, valid, nil), runAll(full, payload, valid, nil); got != want && !(valid && d == 10000) {
					t.Errorf("%s, depth %d (valid %v):\npartial: %.200s\nfull:    %.200s", e, d, valid, got, want)
				}
			}
		}
	}
}
