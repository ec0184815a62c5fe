package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/itchyny/gojq"
	"github.com/obz-dev/obz/wire"
)

// gojqOutcome runs expr through the gojq path as filter and map do.
func gojqOutcome(t testing.TB, p *Program, payload []byte) (outs []string, keep, failed bool) {
	t.Helper()
	err := p.run(payload, false, nil, func(v any) error {
		b, err := gojq.Marshal(v)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		outs = append(outs, string(b))
		keep = keep || truthy(v)
		return nil
	})
	return outs, keep, err != nil
}

// checkFastVsGojq compares the fast path with the gojq path on one payload:
// the same keep/drop decision, the same output bytes, and the fast path only
// answers (does not bail) when gojq does not fail. It returns whether the
// fast path compiled and answered.
func checkFastVsGojq(t testing.TB, expr string, payload []byte) (fast, answered bool) {
	t.Helper()
	p, err := Compile(expr)
	if err != nil {
		return false, false
	}
	if p.fast == nil {
		return false, false
	}
	outs, keep, failed := gojqOutcome(t, p, payload)
	fkeep, ok1 := p.fast.keep(payload)
	fout, n, ok2 := p.fast.appendOutput(nil, payload)
	if ok1 != ok2 {
		t.Fatalf("%s on %s: filter answered %v, map answered %v", expr, payload, ok1, ok2)
	}
	if !ok1 {
		return true, false
	}
	if failed {
		t.Fatalf("%s on %s: gojq fails, the fast path answers keep=%v out=%q", expr, payload, fkeep, fout)
	}
	if fkeep != keep {
		t.Fatalf("%s on %s: fast keep=%v, gojq keep=%v (outputs %q)", expr, payload, fkeep, keep, outs)
	}
	want := strings.Join(outs, "")
	if len(outs) > 1 && p.fast.gen == nil {
		t.Fatalf("%s on %s: gojq gives %d outputs", expr, payload, len(outs))
	}
	if p.fast.gen != nil && n == len(outs) {
		start := 0
		for i, end := range p.fast.ends {
			if string(fout[start:end]) != outs[i] {
				t.Fatalf("%s on %s: fast output %d is %q, gojq's %q", expr, payload, i, fout[start:end], outs[i])
			}
			start = end
		}
	}
	if n != len(outs) || string(fout) != want {
		t.Fatalf("%s on %s: fast map gives %d %q, gojq %d %q", expr, payload, n, fout, len(outs), want)
	}
	// As a frame's payload (not known to be valid, checked where read):
	// on a valid payload, the same answers.
	ukeep, ok3 := p.fast.keepEvent(payload, false)
	uout, un, ok4 := p.fast.appendEvent(nil, payload, false)
	if !ok3 || !ok4 || ukeep != fkeep || un != n || string(uout) != string(fout) {
		t.Fatalf("%s on %s as a frame's payload: keep %v %v, map %d %q %v; as a bare line: keep %v, map %d %q",
			expr, payload, ukeep, ok3, un, uout, ok4, fkeep, n, fout)
	}
	checkIndexed(t, p, expr, payload, fkeep, fout, n)
	return true, true
}

// checkIndexed: as a bare line whose members the reader indexed as it
// checked it (wire.Frame.Members, read in place of scanTop's walk), the
// same answers.
func checkIndexed(t testing.TB, p *Program, expr string, payload []byte, keep bool, out []byte, n int) {
	t.Helper()
	members, obj, ok := wire.ValidIndex(payload, nil)
	if !ok {
		return // not valid UTF-8: the reader does not pass it on
	}
	if !obj {
		members = nil
	}
	p.fast.ctx.members = members
	defer func() { p.fast.ctx.members = nil }()
	ikeep, ok1 := p.fast.keepEvent(payload, true)
	iout, in, ok2 := p.fast.appendEvent(nil, payload, true)
	if !ok1 || !ok2 || ikeep != keep || in != n || string(iout) != string(out) {
		t.Fatalf("%s on %s with the reader's index %v: keep %v %v, map %d %q %v; scanned: keep %v, map %d %q",
			expr, payload, members, ikeep, ok1, in, iout, ok2, keep, n, out)
	}
}

// TestFastPathFramePayloads: a frame's payload is trusted, not validated on
// the way in; the fast path checks what it reads. What it reads that is
// not JSON goes to gojq (and the error lane); map never writes it out.
func TestFastPathFramePayloads(t *testing.T) {
	for _, tc := range []struct {
		expr, payload string
		answered      bool
	}{
		{".amount > 50", `{"amount":5x}`, false},
		{".amount > 50", `{"amount":+5}`, false},
		{".amount > 50", `{"amount":60,"x":tru}`, true}, // not read: passed on as it came
		{"{id, user}", `{"id":1,"user":tru}`, false},
		{"{id, user}", `{"id":1,"user":"u","x":tru}`, true},
		{".a.b", `{"a":{"b":1,}}`, false},
		{".", `{"a":1,}`, false},
		{"true", `{nope}`, false},
		{"has(\"a\")", `{"a":1,}`, false},
		{"del(.a)", `{"a":1,"b":tru}`, false},
		{"select(.a > 0)", `{"a":1,"b":tru}`, false},
		{".a", `[1,]`, false},
	} {
		p, err := Compile(tc.expr)
		if err != nil || p.fast == nil {
			t.Fatalf("%s: not on the fast path (%v)", tc.expr, err)
		}
		_, ok1 := p.fast.keepEvent([]byte(tc.payload), false)
		out, _, ok2 := p.fast.appendEvent(nil, []byte(tc.payload), false)
		if ok1 != tc.answered || ok2 != tc.answered {
			t.Errorf("%s on %s: answered %v %v, want %v", tc.expr, tc.payload, ok1, ok2, tc.answered)
		}
		if ok2 && len(out) > 0 && !json.Valid(out) {
			t.Errorf("%s on %s: map writes %s", tc.expr, tc.payload, out)
		}
	}
}

var fastPayloads = []string{
	`{"id":1,"ts":"2026-01-01T00:00:02Z","user":"u4821","country":"DE","device":"ios","amount":12.34,"tags":["web"],"msg":"x"}`,
	`{"id":2, "amount": 75.50, "user": "b\u00e9", "country":"FR"}`,
	`{"amount":50}`, `{"amount":50.0}`, `{"amount":"75"}`, `{"amount":null}`, `{}`, `[]`, `null`, `5`, `"s"`,
	`{"amount":1e400}`, `{"amount":9007199254740993}`, `{"amount":123456789012345678901234567890}`,
	`{"amount":-0}`, `{"amount":1E2}`, `{"a":{"b":2}}`, `{"a":5}`, `{"a":{"b":"x"},"a":{"c":1}}`,
	`{"a\u0062":1,"ab":2}`, `{"a":"x\u007fy\/","b":"\ud800"}`, `{"a":[1,{"z":1,"b":[]}],"b":{"y":1,"x":[2.50]}}`,
	`{"coupon":null}`, `{"a":true,"b":false}`, `{"a":"abc","b":"abd"}`, `{"a":9223372036854775807,"b":1}`,
}

var fastExprs = []string{
	`.amount > 50`, `.amount >= 50`, `.amount == 50`, `.amount != 50`, `.amount < 50.5`, `.amount <= -1`,
	`.country == "DE"`, `.country == "DE" and .amount > 10`, `.country == "DE" or .amount > 10`, `.amount > 50 | not`,
	`has("coupon")`, `has("coupon") | not`, `.user | test("^u4")`, `.user | test("B"; "i")`, `select(.amount > 50)`,
	`{id, user, amount}`, `{id, amount: .price, user}`, `{"a b": .a, a: 1, a: .b}`, `del(.a)`, `del(.a, .b)`, `.`,
	`.amount + 1`, `.amount - 1`, `.amount * 2`, `.amount / 3`, `.amount % 7`, `.a + .b`, `.a.b`, `.["a"]`, `.a.b > 1`,
	`-.amount`, `.amount | length`, `.user | length`, `.tags | length`, `length`, `.a // "none"`, `.a.b // 1`,
	`select(.amount > 50) | {id, amount}`, `{a: .a, b: {c: .b}}`, `.a == .b`, `.a < .b`, `null`, `true`, `"x"`, `1.50`,
	`{x: (.amount > 50)}`, `.ab`, `.id + 1`, `{id: (.id * 1000)}`, `empty`, `{a: empty}`, `.a and empty`,
}

func TestFastPathTable(t *testing.T) {
	n := 0
	for _, e := range fastExprs {
		for _, p := range fastPayloads {
			fast, _ := checkFastVsGojq(t, e, []byte(p))
			if !fast {
				t.Errorf("%s is not on the fast path", e)
				break
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("nothing compared")
	}
}

func TestFastPathFallsBack(t *testing.T) {
	for _, e := range []string{`. as [$x] | $x`, `$ENV`, `def f: 1; f`, `{(.k): 1}`, `{a: .b[]}`, `.[.a]`, `.a[1.5]`, `@uri "\(.a)"`,
		`.a[] = 1`, `.[0] = 1`, `(.a, .b) = 1`, `1e1000`, `100000000000000000000`, `test("(")`, `.a | test(.b)`, `del(.a.b)`} {
		p, err := Compile(e)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		if p.fast != nil {
			t.Errorf("%s is on the fast path, want gojq", e)
		}
	}
}

// exprGen builds random expressions of the subset from fuzz bytes.
type exprGen struct {
	b []byte
	i int
}

func (g *exprGen) pick(n int) int {
	if g.i >= len(g.b) {
		return 0
	}
	c := g.b[g.i]
	g.i++
	return int(c) % n
}

var (
	genKeys = []string{"a", "b", "c", "amount", "a b", "x"}
	genLits = []string{"0", "1", "-1", "50", "1.5", "1e2", "0.1", "2.50", `"a"`, `""`, `"é"`, `"b"`, "null", "true", "false", "9007199254740993"}
	genOps  = []string{"==", "!=", "<", "<=", ">", ">=", "and", "or", "+", "-", "*", "/", "%", "//"}
)

func (g *exprGen) path() string {
	k := genKeys[g.pick(len(genKeys))]
	var s string
	if k == "a b" || g.pick(4) == 0 {
		s = fmt.Sprintf(`.[%q]`, k)
	} else {
		s = "." + k
	}
	if g.pick(3) == 0 {
		s += "." + genKeys[g.pick(3)]
	}
	return s
}

func (g *exprGen) expr(depth int) string {
	if depth <= 0 {
		if g.pick(2) == 0 {
			return g.path()
		}
		return genLits[g.pick(len(genLits))]
	}
	switch g.pick(18) {
	case 0, 1:
		return g.path()
	case 2:
		return genLits[g.pick(len(genLits))]
	case 3, 4, 5:
		return "(" + g.expr(depth-1) + " " + genOps[g.pick(len(genOps))] + " " + g.expr(depth-1) + ")"
	case 6:
		return "(" + g.expr(depth-1) + " | not)"
	case 7:
		return "select(" + g.expr(depth-1) + ")"
	case 8:
		return fmt.Sprintf("has(%q)", genKeys[g.pick(len(genKeys))])
	case 9:
		return "(" + g.path() + ` | test("^a|b$"))`
	case 10:
		return fmt.Sprintf("{%s, %q: %s, b: %s}", genKeys[g.pick(3)], genKeys[g.pick(len(genKeys))], g.expr(depth-1), g.expr(depth-1))
	case 11:
		return fmt.Sprintf("del(.%s, .%s)", genKeys[g.pick(3)], genKeys[g.pick(3)])
	case 12:
		return []string{"-", "(", "."}[g.pick(3)] + g.expr(depth-1) + []string{"", ")", ""}[0]
	case 13:
		return "(" + g.expr(depth-1) + " | " + []string{"length", ".", "not", "del(.a)"}[g.pick(4)] + ")"
	default:
		return g.extended(depth)
	}
}

// Arguments of the string builtins: literals that probe prefixes, cases,
// separators and unicode, or any expression.
var genStrArgs = []string{`"a"`, `""`, `"b"`, `","`, `" "`, `"é"`, `"A"`, `"-"`, `"ab"`}

// extended builds the forms of the extended subset: conditionals, indexes
// and slices, try and ?, builtins, interpolation, arrays, iteration.
func (g *exprGen) extended(depth int) string {
	e := func() string { return g.expr(depth - 1) }
	sarg := func() string {
		if g.pick(4) == 0 {
			return e()
		}
		return genStrArgs[g.pick(len(genStrArgs))]
	}
	idx := []string{"0", "1", "-1", "2", "-3", "10"}
	switch g.pick(32) {
	case 31:
		f := []string{"has(0)", "has(1)", "has(2)", "explode", "explode | length", `getpath(["a"])`, `getpath(["a", "b"])`, `getpath(["x", "c", "a"])`}
		return "(" + e() + " | " + f[g.pick(len(f))] + ")"
	case 30:
		gs := []string{g.path() + "[]", "(" + e() + ", " + e() + ")", e(), ".[]?", "(" + e() + " | .[])"}
		return "limit(" + []string{"0", "1", "2"}[g.pick(3)] + "; " + gs[g.pick(len(gs))] + ")"
	case 29:
		f := []string{"select(" + e() + ")", ".value |= " + e(), "{key: (.key | ascii_upcase), value}", "{key, value: " + e() + "}",
			"{key: .value, value: .key}", e(), "{k: .key, value}", "{key, Value: .value}", "(.key, .key) as $k | {key: $k, value: 1}"}
		if g.pick(3) == 0 {
			return "(" + e() + " | to_entries | map(" + f[g.pick(len(f))] + ") | from_entries)"
		}
		return "(" + e() + " | with_entries(" + f[g.pick(len(f))] + "))"
	case 26:
		f := []string{"sort", "unique", "min", "max", "reverse", "trim", "ltrim", "rtrim", "tojson", "@text", "@json", "@base64",
			`@base64 "x\(` + e() + `)-\(.a)"`, `@json "\(` + e() + `)"`, `@text "a\(.b)"`}
		return "(" + e() + " | " + f[g.pick(len(f))] + ")"
	case 27:
		arg := []string{`["a"]`, `["a", "b"]`, `[1]`, `[]`, `[null]`, `[true]`, `[1.0, "é"]`, sarg(), e()}
		return "(" + e() + " | contains(" + arg[g.pick(len(arg))] + "))"
	case 28:
		arg := []string{`"a", "b"`, e() + ", " + e(), g.path() + "[]", `["a", 1, null][]`, e(), `.[]?`}
		return "(" + e() + " | IN(" + arg[g.pick(len(arg))] + "))"
	case 22:
		ops := []string{"=", "|=", "+=", "-=", "*=", "/=", "%=", "//="}
		lhs := []string{".a", ".b", ".a.b", ".x.c", `.["a b"]`, ".amount"}
		return "(" + lhs[g.pick(len(lhs))] + " " + ops[g.pick(len(ops))] + " " + e() + ")"
	case 23:
		return "(" + e() + " as $v | " + []string{"$v", "[$v, .a]", "($v | " + e() + ")", e()}[g.pick(4)] + ")"
	case 24:
		objs := []string{".", "{a: 1}", "{b: .a}", ".a", "{}", "null", "del(.a)", "(.c = 2)"}
		return "(" + objs[g.pick(len(objs))] + " + " + objs[g.pick(len(objs))] + ")"
	case 0:
		return "(if " + e() + " then " + e() + " else " + e() + " end)"
	case 1:
		return "(if " + e() + " then " + e() + " elif " + e() + " then " + e() + " end)"
	case 2:
		return g.path() + "[" + idx[g.pick(len(idx))] + "]"
	case 3:
		b := []string{"[1:]", "[:2]", "[1:3]", "[-2:]", "[:-1]", "[2:1]"}
		return "(" + e() + ")" + b[g.pick(len(b))]
	case 4:
		return []string{"(" + e() + ")?", "try " + e(), "(try " + e() + " catch " + e() + ")", g.path() + "?"}[g.pick(4)]
	case 5:
		f := []string{"startswith", "endswith", "ltrimstr", "rtrimstr", "split", "index", "join"}
		return "(" + e() + " | " + f[g.pick(len(f))] + "(" + sarg() + "))"
	case 6:
		f := []string{"ascii_downcase", "ascii_upcase", "tostring", "tonumber", "type", "length", "keys", "to_entries",
			"floor", "round", "ceil", "fabs", "sqrt", "first", "last", "add", "any", "all"}
		return "(" + e() + " | " + f[g.pick(len(f))] + ")"
	case 7:
		return "(" + e() + " | map(" + e() + "))"
	case 8:
		return "[" + g.path() + "[] | " + e() + "]"
	case 9:
		return []string{"any", "all"}[g.pick(2)] + "(" + g.path() + "[]; " + e() + ")"
	case 10:
		return "(" + e() + " | " + []string{"any", "all"}[g.pick(2)] + "(" + e() + "))"
	case 11:
		return "first(" + g.path() + "[])"
	case 12:
		return `"\(` + e() + `)-\(` + e() + `)x"`
	case 13:
		// Array literals, also where their node runs once per element
		// (its buffer is reused) and where a slice of it is kept.
		return []string{"[" + e() + ", " + e() + "]", "[" + e() + ", " + e() + ", " + e() + "]",
			"(" + e() + " | map([., " + e() + "]))", "(" + e() + " | map([., " + e() + ", .][1:]))",
			"[" + g.path() + "[] | [., " + e() + "]]", "[[" + e() + ", .a], [.b, " + e() + "]]"}[g.pick(6)]
	case 14:
		return "[]"
	case 15:
		return g.path() + "[]"
	case 16:
		return "(" + e() + ", " + e() + ")"
	case 17:
		return g.path() + "[]?"
	case 18:
		return "(" + e() + " | .[]" + []string{"", " | " + e(), "?"}[g.pick(3)] + ")"
	case 19:
		return "(" + e() + " | split(" + sarg() + ") | " + []string{".[0]", ".[-1]", "length", "join(\"+\")", "map(ascii_upcase)"}[g.pick(5)] + ")"
	case 20:
		return "(" + e() + " | tostring | " + []string{"length", "ascii_downcase", "tonumber", ".[1:]"}[g.pick(4)] + ")"
	default:
		return "(" + e() + " | index(" + e() + "))"
	}
}

// payloadGen builds random JSON payloads from fuzz bytes: the keys the
// expressions use, numbers and strings chosen to probe edge cases.
type payloadGen struct{ exprGen }

var (
	genNums = []string{"0", "-0", "1", "50", "51", "-1", "1.5", "1.50", "1e2", "1E2", "12.34", "-12.340", "9007199254740993",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e400", "0.1", "2.5e-7", "1e21", "123456789012345678901234567890", "50.0"}
	genStrs = []string{`""`, `"a"`, `"b"`, `"é"`, `"\u00e9"`, `"a\"b"`, `"\u0000"`, `"x\u007f"`, `"\ud800"`, `"\/"`, `"ab"`, `"B"`, "\"\x7f\"", `"\t"`,
		`"A,b"`, `"a b,A"`, `"İx"`, `"ǅa"`, `"ÉCOLE"`, `"12"`, `"1.50"`, `"-3"`, `"1e2"`, `"007"`, `" 1"`, `"+1"`, `"1."`, `"a-b-"`, `"--"`, `"2026-01-01T00:00:02Z"`, `"9223372036854775808"`,
		`" a "`, `"\u00a0x\n"`, `"\u2028 "`}
	genKeyR = []string{`"a"`, `"b"`, `"c"`, `"amount"`, `"a b"`, `"x"`, `"\u0061"`, `"é"`}
	genWS   = []string{"", "", "", " ", "\n", " \t"}
)

func (g *payloadGen) value(buf *strings.Builder, depth int) {
	buf.WriteString(genWS[g.pick(len(genWS))])
	n := 7
	if depth <= 0 {
		n = 5
	}
	switch g.pick(n) {
	case 0, 1:
		buf.WriteString(genNums[g.pick(len(genNums))])
	case 2:
		buf.WriteString(genStrs[g.pick(len(genStrs))])
	case 3:
		buf.WriteString([]string{"null", "true", "false"}[g.pick(3)])
	case 4:
		buf.WriteString(genNums[g.pick(len(genNums))])
	case 5:
		buf.WriteByte('[')
		for i := range g.pick(4) {
			if i > 0 {
				buf.WriteByte(',')
			}
			g.value(buf, depth-1)
		}
		buf.WriteByte(']')
	default:
		g.object(buf, depth-1)
	}
	buf.WriteString(genWS[g.pick(len(genWS))])
}

func (g *payloadGen) object(buf *strings.Builder, depth int) {
	buf.WriteByte('{')
	for i := range g.pick(6) {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(genWS[g.pick(len(genWS))])
		buf.WriteString(genKeyR[g.pick(len(genKeyR))])
		buf.WriteByte(':')
		g.value(buf, depth)
	}
	buf.WriteByte('}')
}

// FuzzFastPathVsGojq: random expressions of the subset on random payloads
// give the same keep/drop decision, the same map output bytes, and gojq
// fails exactly where the fast path does not answer itself.
func FuzzFastPathVsGojq(f *testing.F) {
	for i, e := range []string{"\x03\x00\x04\x05\x00\x01", "\x0a\x01\x02\x03\x04\x05", "\x07\x03\x00\x04\x02\x01", "\x0b\x00\x01", "\x0d\x05\x00"} {
		for j, p := range []string{"\x06\x02\x00\x01\x03\x01\x00\x04\x02", "\x06\x04\x01\x00\x00\x00\x02\x03\x01\x07\x05", "\x05\x03\x00\x01\x02\x06"} {
			f.Add([]byte(e), []byte(p), i+j)
		}
	}
	f.Fuzz(func(t *testing.T, eb, pb []byte, raw int) {
		expr := (&exprGen{b: eb}).expr(3)
		var payload []byte
		if raw%5 == 4 && utf8.Valid(pb) && json.Valid(pb) {
			payload = bytes.TrimSpace(pb)
		} else {
			g := &payloadGen{exprGen{b: pb}}
			var sb strings.Builder
			if raw%3 == 2 {
				g.value(&sb, 3)
			} else {
				g.object(&sb, 3)
			}
			payload = []byte(strings.TrimSpace(sb.String()))
		}
		if !json.Valid(payload) || len(payload) == 0 {
			return
		}
		checkFastVsGojq(t, expr, payload)
	})
}

func TestFastPathGeneratedExpressionsCompile(t *testing.T) {
	// The generator stays inside the subset: nearly all it makes is fast.
	fast, total := 0, 0
	for i := range 2000 {
		seed := []byte(fmt.Sprintf("%d-%d-%d-%d-%d-%d-%d", i*7919, i*31, i, i*i, i*13, i*17, i*3))
		e := (&exprGen{b: seed}).expr(3)
		p, err := Compile(e)
		if err != nil {
			continue
		}
		total++
		if p.fast != nil {
			fast++
		}
	}
	if fast*10 < total*9 {
		t.Errorf("only %d of %d generated expressions are on the fast path", fast, total)
	}
}

// TestFastPathSweep runs the differential check over a deterministic sweep
// of generated expressions and payloads, and checks that the fast path
// answers many of them itself (a sweep where it always bails proves
// nothing).
func TestFastPathSweep(t *testing.T) {
	fast, answered, total := 0, 0, 0
	for i := range 20000 {
		eb := []byte(fmt.Sprintf("%x%d", i*2654435761, i))
		pb := []byte(fmt.Sprintf("%x%d", i*40503, i*7))
		expr := (&exprGen{b: eb}).expr(3)
		g := &payloadGen{exprGen{b: pb}}
		var sb strings.Builder
		g.object(&sb, 3)
		f, a := checkFastVsGojq(t, expr, []byte(sb.String()))
		total++
		if f {
			fast++
		}
		if a {
			answered++
		}
	}
	// The extended forms fail on many generated payloads (a string
	// builtin on a number, .[] on null): those go to gojq, so about a
	// third is answered by the fast path itself.
	if fast*10 < total*8 || answered*4 < total {
		t.Errorf("of %d cases %d compiled to the fast path and %d were answered by it", total, fast, answered)
	}
}

// TestFastPathArrayLiteralReuse: an array literal (and [g], map, sort,
// unique, reverse, split, with_entries) fills its node's buffer on every
// run; where its node runs once per element, what is kept of an earlier
// run (the array, a slice of it, an array holding it) is a copy.
func TestFastPathArrayLiteralReuse(t *testing.T) {
	for _, expr := range []string{
		"[.a, .b]", "[.a, .b, .c] | .[1:]", ".t | map([., 1])", ".t | map([., 1, .][1:])", "[.t[] | [., .]]",
		".t | map([[.], {x: [.]}])", ".t | map([., 2] | reverse)", "[.t[] | [.][0:1]]", "[.a, .b] as $x | [$x, [.c, $x]]",
		".t | map([., 1][1:] | [.[0], .])", "[.t[] | select(. != null)]", "[.t[] | [., 1] | {a: .}]",
		".t | [map(.), map([.])]", "[.t[] | [.t2[]?]]", ".t | map(map(.)?)",
		".t | map([., 1] | sort)", "[.t[] | [., .] | unique]", "[.t[] | [[.], 2] | reverse]", ".t | map([.[]?] | reverse)",
		"[.t | sort, reverse, unique]", ".t | map(split(\"q\"))", "[.t[] | split(\"q\")[1:]]", ".t | map(split(\"\"))",
		".t | map(with_entries(select(.value != 1)))", "[.t[] | with_entries(.key |= ascii_upcase)]", "[.u, .t[0] | with_entries(.)]",
		".u | with_entries(.value |= [.]) as $x | [$x, with_entries(.)]", ".u | [with_entries({key: \"k\", value: .key})]",
	} {
		for _, payload := range []string{`{"a":1,"b":"x","c":null,"t":["p","q","r"]}`, `{"t":[[1],{"a":2},3]}`, `{"t":[]}`,
			`{"t":[{"a":1,"b":2},{"c":3,"a":4}],"u":{"x":1,"y":[2],"x":5}}`} {
			if fast, _ := checkFastVsGojq(t, expr, []byte(payload)); !fast {
				t.Errorf("%s: not on the fast path", expr)
			}
		}
	}
}

// TestFastPathLaterDuplicates: the scan stops once every field is found
// only where no later member can repeat one.
func TestFastPathLaterDuplicates(t *testing.T) {
	for _, payload := range []string{
		`{"a":1,"b":2,"a" :3}`, `{"a":1,"b":2,"a"` + "\n\t:3}", `{"a":1,"b":"x:y","\u0061":4}`,
		`{"a":1,"b":{"a":5}}`, `{"a":1,"b":"\"a\":6"}`, `{"a":1,"b":"a:","c":"\"a\""}`, `{"b":0,"a":1,"ba":2,"a":[3]}`,
		`{"a":1,"b":2,"xa":3}`, `{"a":1,"b":["a",":"],"a":{"a":7}}`, `{"b":1,"a":2}`,
	} {
		for _, expr := range []string{".a", "{a, b}", ".a > 1", ".b"} {
			checkFastVsGojq(t, expr, []byte(payload))
		}
	}
}

// FuzzParseDecimal: the decimal fast path gives strconv.ParseFloat's float.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"95.11", "-0.0", "0.1", "123456789012.345", "1.5", "9999999999999.99", "-12.340", "1.", ".5", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseDecimal([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseDecimal(%q) = %v, ParseFloat = %v, %v", s, got, want, err)
		}
	})
}

// TestFastPathMembers: keys, to_entries, length and .[] on input objects
// (read as sorted member offsets, keys and to_entries written out from
// them) against gojq: many members (past the insertion sort), repeated
// keys, escaped and non-ASCII keys, and a node's array kept while the node
// runs again (map, [...], variables, objects).
func TestFastPathMembers(t *testing.T) {
	var many strings.Builder
	many.WriteString("{")
	for i := range 40 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `"k%d":%d`, (i*17)%23, i) // 23 keys, most twice
	}
	many.WriteString(`,"":0,"K":[1,{"b":2,"a":1}],"é":"x\u00e9","z\u007f":1}`)
	payloads := []string{
		many.String(),
		`{"b":1,"a":2,"b":3,"ab":4,"a ":5,"a!":6,"B":7}`,
		`{"é":1,"e":2,"É":3,"😀":4,"\u00e9x":5,"ﬀ":6,"z":7}`,
		`{"a\u0062":1,"ab":2,"c":3}`,
		`{"x\u007fy":1,"\"q":2,"x":{"y":1,"a":2}}`,
		`{"a":{"c":1,"b":2},"b":{"z":[1,2],"y":null,"z":3},"c":[{"q":1,"p":2},{"n":true}]}`,
		`{}`, `{"a":1}`, `{"a":1,"a":2}`, `[{"b":1,"a":2},{"c":3,"a":[1]}]`, `[]`, `null`, `1.5`, `"s"`,
	}
	exprs := []string{
		`keys`, `to_entries`, `length`, `.[]`, `keys | length`, `to_entries | length`, `to_entries | map(.key)`,
		`to_entries[] | .value`, `[.[] | keys]`, `map(keys)`, `map(to_entries)`, `[keys, keys]`, `keys as $k | [$k, keys]`,
		`to_entries | .[1:]`, `keys[0]`, `keys[-1]`, `{k: keys, e: to_entries}`, `.a | keys`, `.b | to_entries`,
		`.c | map(to_entries)`, `[.[] | to_entries | length]`, `keys | map(ascii_upcase)`, `to_entries | first`,
		`keys | index("b")`, `keys | join(",")`, `to_entries | map(.value) | length`, `[.c[] | keys] | length`,
		`keys | .[]`, `to_entries | .[] | .key`, `"\(keys)"`, `keys | tostring`, `to_entries == to_entries`,
	}
	answered := 0
	for _, e := range exprs {
		for _, p := range payloads {
			fast, a := checkFastVsGojq(t, e, []byte(p))
			if !fast {
				t.Fatalf("%s is not on the fast path", e)
			}
			if a {
				answered++
			}
		}
	}
	if answered < len(exprs)*len(payloads)/3 {
		t.Errorf("the fast path answered %d of %d cases", answered, len(exprs)*len(payloads))
	}
}

// FuzzJQFloat: appendJQFloat writes a float64 as gojq.Marshal does
// (integral floats by their integer's digits included).
func FuzzJQFloat(f *testing.F) {
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1, 72, 72.5, 1e15 - 1, 1e15, -1e15 + 1, 1 << 53, 1<<53 + 2, 1e21, 1e-7,
		123456789012345, 999999999999999.9, -0.5, math.Inf(1), math.NaN(), math.MaxFloat64, 4503599627370497} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		want, err := gojq.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJQFloat(nil, x); string(got) != string(want) {
			t.Fatalf("appendJQFloat(%v) = %s, gojq %s", x, got, want)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		// and the integers near it
		for _, y := range []float64{math.Floor(x), math.Round(x), math.Ceil(x), math.Floor(x / 1e3), math.Floor(x * 1e3)} {
			want, _ := gojq.Marshal(y)
			if got := appendJQFloat(nil, y); string(got) != string(want) {
				t.Fatalf("appendJQFloat(%v) = %s, gojq %s", y, got, want)
			}
		}
	})
}

// FuzzRuneCount: runeCount is utf8.RuneCount, on any bytes (a frame's
// payload is not checked for UTF-8: each byte of a bad sequence counts).
func FuzzRuneCount(f *testing.F) {
	for _, s := range []string{"", "a", "Zürich low order user is to high served order", "12345678\xff", "\xe2\x82", "é\xc3", "€€€€€€€€€", "abcdefgh\xf0\x9f\x98\x80ijklmnopq\xed\xa0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := runeCount(b), utf8.RuneCount(b); got != want {
			t.Fatalf("runeCount(%q) = %d, utf8.RuneCount %d", b, got, want)
		}
	})
}

// TestFastPathCollections: sort, unique, min, max, reverse, contains, IN,
// trim and @text/@json against gojq on arrays of mixed scalars, equal
// numbers written differently, unicode and white space.
func TestFastPathCollections(t *testing.T) {
	payloads := []string{
		`{"tags":["web","vip","app","vip"],"n":[3,1.0,1,2.5,-0,0,1e2,100],"s":"  pad\t","u":"\u00a0é x\u2028","c":"DE"}`,
		`{"tags":[],"n":[],"s":"","u":"x","c":"FR"}`,
		`{"tags":["b",null,true,false,1,"a",null,0.5,"é","e"],"n":[9007199254740993,1],"s":"a\u0000b","c":"XX"}`,
		`{"tags":["a",["x"],{"y":1}],"n":[1,[2]],"s":5,"u":null,"c":null}`,
		`{"tags":"vip","n":null,"s":["a"],"c":1}`,
		`{"tags":["vipx","xvip","v"],"n":[2,2.0,2e0],"s":"\n\n","c":"de"}`,
	}
	exprs := []string{
		`.tags | sort`, `.tags | unique`, `.n | sort`, `.n | unique`, `.n | min`, `.n | max`, `.tags | min`, `.tags | max`,
		`.tags | reverse`, `.n | reverse`, `.tags | sort | reverse | .[0]`, `[.tags[] | select(. != null)] | unique | length`,
		`.tags | contains(["vip"])`, `.tags | contains(["vi", "a"])`, `.tags | contains([])`, `.tags | contains([null])`,
		`.tags | contains([1])`, `.n | contains([1, 2])`, `.s | contains("pa")`, `.s | contains("")`, `.c | contains("E")`,
		`.c | IN("DE", "FR")`, `.c | IN(.c)`, `.c | IN("x", 1, null)`, `.n[0]? | IN(1, 1.0, "3", true, false, null)`, `.tags | IN(null, [])`, `.tags | IN(["vip"][])`, `.c | IN(.tags[]?)`,
		`select(.c | IN("DE", "FR"))`, `.s | trim`, `.s | ltrim`, `.s | rtrim`, `.u | trim`, `.u | ltrim | length`,
		`.s | @text`, `.n | @text`, `.tags | @json`, `.s | @json`, `.c | @json | length`, `.n | tojson`, `{t: (.tags | sort)}`,
		`[.tags, .n] | map(sort)`, `.n | sort | .[0] + 1`, `.tags | unique | join(",")`,
		`with_entries(select(.value != null))`, `to_entries | map(select(.value != null)) | from_entries`,
		`with_entries(.value |= tostring)`, `with_entries({key: (.key | ascii_upcase), value})`, `with_entries(.key = "x")`,
		`with_entries({key: .value, value: .key})`, `with_entries(empty)`, `with_entries({k: .key, value})`,
		`with_entries({key, Value: .value})`, `with_entries({key, value: null, Value: 1})`, `with_entries(select(.key == "tags") | .value)`,
		`.n | to_entries | from_entries`, `[{key: "a", value: 1}, {key: "a", value: 2}, {key: "é", value: .c}] | from_entries`,
		`[] | from_entries`, `.tags | from_entries`, `with_entries(.value = (.value | length))`,
		`limit(1; .tags[])`, `limit(2; .tags[])`, `limit(0; .tags[])`, `[limit(3; .n[])]`, `limit(1; .c, (.s | ascii_upcase))`,
		`limit(1; .s[])`, `first(limit(2; .n[]))`, `[limit(1; .tags[] | select(. == "vip"))]`,
		`.c | @base64`, `.u | @base64`, `.n | @base64`, `.s | @base64`, `@base64 "id \(.c): \(.n)"`, `@json "t=\(.tags)"`,
		`@text "\(.s)|\(.n)"`, `@base64 "\(empty)x"`,
		`.tags | has(0)`, `.tags | has(3)`, `.n | has(1)`, `.u | has(0)`, `.s | explode`, `.u | explode | length`, `.c | explode`,
		`getpath(["tags"])`, `getpath(["n", "x"])`, `getpath(["u", "v", "w"])`, `getpath(["c"]) | ascii_downcase`, `.tags | getpath(["a"])`,
	}
	answered := 0
	for _, e := range exprs {
		for _, p := range payloads {
			fast, a := checkFastVsGojq(t, e, []byte(p))
			if !fast {
				t.Fatalf("%s is not on the fast path", e)
			}
			if a {
				answered++
			}
		}
	}
	if answered < len(exprs)*len(payloads)/3 {
		t.Errorf("the fast path answered %d of %d cases", answered, len(exprs)*len(payloads))
	}
	t.Logf("the fast path answered %d of %d cases", answered, len(exprs)*len(payloads))
}
