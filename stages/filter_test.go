package stages

import (
	"strings"
	"testing"

	"github.com/obz-dev/obz/runner/runnertest"
	"github.com/obz-dev/obz/wire"
)

func TestFilterTruthiness(t *testing.T) {
	st := runnertest.New(t, &filterSpec, []string{".x"}, nil)
	in := `{"x":null}
{"x":false}
{"x":true}
{"x":0}
{"x":""}
{"x":[]}
{"x":{}}
{"y":1}
`
	got, res := runnertest.Raw(t, st, in)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	want := `{"x":true} {"x":0} {"x":""} {"x":[]} {"x":{}}`
	if strings.Join(got, " ") != want {
		t.Errorf("kept %q, want %s (only null and false are false)", got, want)
	}
}

func TestFilterOutputs(t *testing.T) {
	tests := []struct {
		expr, in string
		keep     bool
	}{
		{".[]", `[false,true]`, true},    // any true output keeps the event
		{".[]", `[true,false]`, true},    // ... in any position
		{".[]", `[false,null]`, false},   // no true output
		{"empty", `{"a":1}`, false},      // no output at all drops it
		{".a > 50", `{"a":75.50}`, true}, // numbers compare as numbers
		{".a > 50", `{"a":"75"}`, true},  // strings sort after numbers in jq
		{`.c == "DE" and (.t | index("vip"))`, `{"c":"DE","t":["x","vip"]}`, true},
		{`has("coupon") | not`, `{"coupon":1}`, false},
		{"halt", `{"a":1}`, false},
	}
	for _, tt := range tests {
		got, res := runnertest.Raw(t, runnertest.New(t, &filterSpec, []string{tt.expr}, nil), tt.in)
		if res.Err != nil {
			t.Errorf("filter %q on %s: %v", tt.expr, tt.in, res.Err)
			continue
		}
		if kept := len(got) == 1 && got[0] == tt.in; kept != tt.keep {
			t.Errorf("filter %q on %s: output %q, want keep=%v", tt.expr, tt.in, got, tt.keep)
		}
	}
}

// TestFilterPassesBytes: a kept event's payload is passed on byte for byte.
func TestFilterPassesBytes(t *testing.T) {
	in := `{"id":2, "amount": 75.50, "z":"\u00e9<&>"}`
	res := runnertest.Run(t, &filterSpec, runnertest.New(t, &filterSpec, []string{".amount > 50"}, nil), in+"\n", nil)
	fs := runnertest.Frames(t, res.Out)
	if len(fs) != 2 || string(fs[0].Payload) != in {
		t.Errorf("frames %+v, want the payload %s unchanged", fs, in)
	}
	if fs[0].Parent != (wire.Ref{Writer: "-", Seq: 1}) {
		t.Errorf("parent %v, want [-,1]", fs[0].Parent)
	}
}

func TestFilterErrorLane(t *testing.T) {
	in := "{\"a\":{\"b\":1}}\n{\"a\":5}\n{\"a\":{\"b\":2}}\n"
	res := runnertest.Run(t, &filterSpec, runnertest.New(t, &filterSpec, []string{".a.b > 1"}, nil), in, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if len(fs) != 3 {
		t.Fatalf("frames %+v, want an error frame, a data frame and the EOF", fs)
	}
	e := fs[0]
	if e.Kind != wire.KindError || e.Err.Kind != "expr" || !strings.Contains(e.Err.Msg, "expected an object but got: number (5)") ||
		e.Err.Stage != "filter" || e.Err.Line != 2 || string(e.Payload) != `{"a":5}` {
		t.Errorf("error frame %+v %+v", e, e.Err)
	}
	if string(fs[1].Payload) != `{"a":{"b":2}}` || fs[2].Count != 2 {
		t.Errorf("frames after the error: %+v", fs[1:])
	}

	res = runnertest.Run(t, &filterSpec, runnertest.New(t, &filterSpec, []string{`error("bad \(.a)")`}, nil), `{"a":1}`, nil)
	if fs := runnertest.Frames(t, res.Out); fs[0].Kind != wire.KindError || fs[0].Err.Msg != "bad 1" {
		t.Errorf("error(...) gives %+v, want message \"bad 1\"", fs[0].Err)
	}
}

// TestFilterBadPayload: a frame whose payload is not JSON (frames are not
// validated on the way in) goes to the error lane, it does not stop the stage.
func TestFilterBadPayload(t *testing.T) {
	in := runnertest.Data("up", 1, `{"a":1}`) + `{"obz":1,"t":"data","w":"up","s":2,"d":{nope}}` + "\n" + runnertest.Data("up", 3, `{"a":3}`) + runnertest.EOF("up", 3, wire.Natural)
	res := runnertest.Run(t, &filterSpec, runnertest.New(t, &filterSpec, []string{"true"}, nil), in, nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	fs := runnertest.Frames(t, res.Out)
	if len(fs) != 4 || fs[1].Kind != wire.KindError || fs[1].Err.Kind != "parse" || runnertest.LastEOF(t, fs).Count != 3 {
		t.Errorf("frames %+v, want the bad payload in the error lane", fs)
	}
}

func TestFilterUsage(t *testing.T) {
	runnertest.Usage(t, &filterSpec, nil, nil, "filter takes a jq expression")
	runnertest.Usage(t, &filterSpec, []string{".a >"}, nil, "bad jq expression")
	runnertest.Usage(t, &filterSpec, []string{"nosuchfunc(1)"}, nil, "bad jq expression")
	runnertest.Usage(t, &filterSpec, []string{"input"}, nil, "runs on each event by itself")
	runnertest.Usage(t, &filterSpec, []string{"$x"}, map[string]any{"arg": []string{"x"}}, "takes two arguments")
	runnertest.Usage(t, &filterSpec, []string{"$x"}, map[string]any{"argjson": []string{"x", "{"}}, "--argjson x")
	// jq takes the first of two; obz cannot tell which came first.
	runnertest.Usage(t, &filterSpec, []string{"$x"}, map[string]any{"arg": []string{"x", "1"}, "argjson": []string{"x", "1"}}, "$x is given twice (--arg x, --argjson x)")
	runnertest.Usage(t, &filterSpec, []string{"$x"}, map[string]any{"arg": []string{"x", "1", "x", "2"}}, "$x is given twice (--arg x, --arg x)")
}

// TestFilterEnv: $ENV and env are the process environment, as in jq;
// --arg and --argjson are variables.
func TestFilterEnv(t *testing.T) {
	t.Setenv("OBZ_TEST_C", "DE")
	st := runnertest.New(t, &filterSpec, []string{`.c == $ENV.OBZ_TEST_C and .n > $min and env.OBZ_TEST_C == $c`},
		map[string]any{"argjson": []string{"min", "1"}, "arg": []string{"c", "DE"}})
	got, _ := runnertest.Raw(t, st, `{"c":"DE","n":2}`+"\n"+`{"c":"FR","n":2}`+"\n"+`{"c":"DE","n":1}`+"\n")
	if len(got) != 1 || got[0] != `{"c":"DE","n":2}` {
		t.Errorf("kept %q, want the first event only", got)
	}
}

// TestFilterSeveralOutputs: filter keeps an event once, whatever the
// number of true outputs (filter --help says how jq's select differs);
// a failure after a true output sends the event to the error lane.
func TestFilterSeveralOutputs(t *testing.T) {
	got, _ := runnertest.Raw(t, runnertest.New(t, &filterSpec, []string{`.tags[]`}, nil), `{"tags":["a","b"]}`+"\n"+`{"tags":[null,false]}`+"\n"+`{"tags":[false,"x"]}`+"\n")
	if len(got) != 2 || got[0] != `{"tags":["a","b"]}` || got[1] != `{"tags":[false,"x"]}` {
		t.Errorf("kept %q, want the first and the last event once each", got)
	}
	res := runnertest.Run(t, &filterSpec, runnertest.New(t, &filterSpec, []string{`(true, error("late"))`}, nil), `{"a":1}`+"\n", nil)
	fs := runnertest.Frames(t, res.Out)
	if len(fs) != 2 || fs[0].Kind != wire.KindError || fs[0].Err.Msg != "late" {
		t.Errorf("frames %+v, want the event in the error lane", fs)
	}
}
