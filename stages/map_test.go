package stages

import (
	jsoniter "github.com/json-iterator/go"
	"strings"
	"testing"

	"github.com/itchyny/gojq"
	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

func TestMapOutputs(t *testing.T) {
	tests := []struct {
		expr, in string
		want     []string
	}{
		{".items[]", `{"items":[1,"two",{"x":3}]}`, []string{`1`, `"two"`, `{"x":3}`}},
		{"empty", `{"a":1}`, nil},
		{"select(.a > 1)", `{"a":1}`, nil},
		{".missing", `{"a":1}`, []string{`null`}},
		{".a, .a", `{"a":false}`, []string{`false`, `false`}},
		// object keys come out sorted, as in jq
		{"{z: 1, a: 2, m: {y: 1, b: 2}}", `{}`, []string{`{"a":2,"m":{"b":2,"y":1},"z":1}`}},
		{".", `{"b": 1, "a": 2}`, []string{`{"a":2,"b":1}`}},
		// input numbers are kept as written; computed ones in shortest form
		{".", `{"a":1.50,"b":1e2,"c":100000000000000000000001}`, []string{`{"a":1.50,"b":1e2,"c":100000000000000000000001}`}},
		{".a + .b", `{"a":0.1,"b":0.2}`, []string{`0.30000000000000004`}},
		{".a * 2", `{"a":1.5}`, []string{`3`}},
		{".c + 1", `{"c":100000000000000000000001}`, []string{`100000000000000000000002`}},
		{"1 / 3", `null`, []string{`0.3333333333333333`}},
		// no HTML escaping, UTF-8 kept
		{".s", `{"s":"<a&b> é"}`, []string{`"<a&b> é"`}},
		{`.amount_eur = (.amount * 0.92)`, `{"amount":10}`, []string{`{"amount":10,"amount_eur":9.200000000000001}`}},
	}
	for _, tt := range tests {
		got, res := runnertest.Raw(t, runnertest.New(t, &mapSpec, []string{tt.expr}, nil), tt.in+"\n")
		if res.Err != nil {
			t.Errorf("map %q on %s: %v", tt.expr, tt.in, res.Err)
			continue
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("map %q on %s = %q, want %q", tt.expr, tt.in, got, tt.want)
		}
	}
}

// TestMapMatchesGojq: whatever map prints is what gojq.Marshal prints.
func TestMapMatchesGojq(t *testing.T) {
	in := `{"n":[1,1.0,1.25,-0,1e-7,123456789012,3.0e10],"s":"\u2028\t\"","o":{"b":[],"a":{}}}`
	exprs := []string{".", ".n[]", ".n | map(. * 1)", ".o", "[.n[] | . + 0]", ".s"}
	for _, expr := range exprs {
		got, res := runnertest.Raw(t, runnertest.New(t, &mapSpec, []string{expr}, nil), in)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		var v any
		if err := (jsoniter.Config{UseNumber: true}).Froze().Unmarshal([]byte(in), &v); err != nil {
			t.Fatal(err)
		}
		q, _ := gojq.Parse(expr)
		code, _ := gojq.Compile(q)
		var want []string
		iter := code.Run(v)
		for {
			x, ok := iter.Next()
			if !ok {
				break
			}
			b, err := gojq.Marshal(x)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, string(b))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("map %q = %q, gojq gives %q", expr, got, want)
		}
	}
}

func TestMapFrames(t *testing.T) {
	in := runnertest.Data("up", 1, `{"items":[]}`) + runnertest.Data("up", 2, `{"items":[1,2]}`) + runnertest.EOF("up", 2, wire.Natural)
	res := runnertest.Run(t, &mapSpec, runnertest.New(t, &mapSpec, []string{".items[]"}, nil), in, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if len(fs) != 3 {
		t.Fatalf("frames %+v", fs)
	}
	for i, f := range fs[:2] {
		if f.Seq != uint64(i+1) || f.Parent != (wire.Ref{Writer: "up", Seq: 2}) || f.Writer != "map" {
			t.Errorf("frame %d = %+v: want seq %d, parent [up,2]", i, f, i+1)
		}
	}
	if eof := runnertest.LastEOF(t, fs); eof.Count != 2 || eof.EOF != wire.Natural {
		t.Errorf("EOF %+v, want n 2 natural", eof)
	}
}

// TestMapErrorKeepsEarlierOutputs: outputs before the failure are kept; the
// event goes to the error lane with the message; later events go on.
func TestMapErrorKeepsEarlierOutputs(t *testing.T) {
	in := "[1,2,3]\n[4]\n"
	res := runnertest.Run(t, &mapSpec, runnertest.New(t, &mapSpec, []string{`.[] | if . == 2 then error("two") else . end`}, nil), in, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	var kinds []string
	for _, f := range fs {
		switch f.Kind {
		case wire.KindData:
			kinds = append(kinds, string(f.Payload))
		case wire.KindError:
			kinds = append(kinds, "error:"+f.Err.Msg+":"+string(f.Payload))
		}
	}
	if got := strings.Join(kinds, " "); got != "1 error:two:[1,2,3] 4" {
		t.Errorf("outputs %q", got)
	}
	if runnertest.LastEOF(t, fs).Count != 3 {
		t.Errorf("EOF count %d, want 3", runnertest.LastEOF(t, fs).Count)
	}
}

func TestMapErrorMessages(t *testing.T) {
	for _, tt := range []struct{ expr, in, msg string }{
		{".a.b", `{"a":1}`, `expected an object but got: number (1)`},
		{".a + 1", `{"a":"x"}`, `cannot add: string ("x") and number (1)`},
		{`error({code: 1})`, `{}`, `{"code":1}`},
		{".[]", `1`, "cannot iterate over: number (1)"},
	} {
		res := runnertest.Run(t, &mapSpec, runnertest.New(t, &mapSpec, []string{tt.expr}, nil), tt.in, nil)
		fs := runnertest.Frames(t, res.Out)
		if fs[0].Kind != wire.KindError || fs[0].Err.Kind != "expr" || !strings.Contains(fs[0].Err.Msg, tt.msg) {
			t.Errorf("map %q on %s: %+v, want an expr error %q", tt.expr, tt.in, fs[0].Err, tt.msg)
		}
	}
}

func TestMapUsage(t *testing.T) {
	runnertest.Usage(t, &mapSpec, nil, nil, "map takes a jq expression")
	runnertest.Usage(t, &mapSpec, []string{"[inputs]"}, nil, "runs on each event by itself")
	runnertest.Usage(t, &mapSpec, []string{"{a:"}, nil, "bad jq expression")
}
